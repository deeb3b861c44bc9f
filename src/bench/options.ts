/** What every benchmark takes: the test folder, how many images, and which model runs. */
export interface BenchOptions {
  /** Folder of test images. */
  data: string;
  /** First N images only. */
  limit?: number;
  model?: string;
  backend?: string;
  /** Threads that run the model on one image (default 1); the peers run on one thread. */
  threads?: number;
  onProgress?: (msg: string) => void;
}
