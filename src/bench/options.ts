/** What every benchmark takes: the test folder, how many images, and which model runs. */
export interface BenchOptions {
  /** Folder of test images. */
  data: string;
  /** First N images only. */
  limit?: number;
  model?: string;
  backend?: string;
  onProgress?: (msg: string) => void;
}
