#!/usr/bin/env node
/**
 * Generates the hand-written WebAssembly SIMD kernel that replaces tfjs-backend-wasm's
 * batched matMul (see src/runtime/wasm-kernels.ts for why), and writes:
 *   src/runtime/wasm-kernels.wat         the text, for reading
 *   src/runtime/wasm-kernels-binary.ts   the compiled module, base64 (what runs)
 * Usage: node scripts/gen-wasm-kernels.js [--check]   (--check: exit 1 if the files differ)
 *
 * The kernel, `bmm(a, b, c, batch, M, K, N)`, computes C[i] = A[i] @ B[i] for `batch`
 * row-major float32 matrices A [M, K], B [K, N], C [M, N] stored one after another at
 * byte offsets a, b, c of the memory it imports (tfjs's own heap, so no copy is made).
 * Register tiles of 4 rows x 8 columns (two f32x4 accumulators per row) walk k; edges use
 * 4 x 4, 4 x 1 and 1-row tiles. Each output element sums its products in k order.
 *
 * The second, `gelu(x, out, n)`, is the exact (erf) GELU of n floats in one pass, four at a
 * time: 0.5 x (1 + erf(x / sqrt 2)), erf by a rational function of z = x / sqrt 2 clamped to
 * [-4, 4] (odd numerator of degree 13, even denominator of degree 8; the coefficients of
 * Eigen's float erf, a published minimax fit), within 4e-7 of erf everywhere.
 */
const fs = require('node:fs');
const path = require('node:path');

/** The code of one tile: R rows (4 or 1) by W columns (8, 4 or 1) at (row block, $j). */
function tile(R, W) {
  const vec = W !== 1;
  const V = W === 8 ? 2 : 1;
  const acc = (r, v) => (vec ? `$acc${r}_${v}` : `$s${r}`);
  const out = [];
  for (let r = 0; r < R; r++) for (let v = 0; v < V; v++) out.push(`(local.set ${acc(r, v)} ${vec ? '(v128.const f32x4 0 0 0 0)' : '(f32.const 0)'})`);
  for (let r = 0; r < R; r++) out.push(`(local.set $pa${r} (i32.add (local.get $arow) (i32.mul (i32.const ${r}) (local.get $ka))))`);
  out.push('(local.set $pb (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))');
  out.push('(local.set $k (local.get $K))');
  out.push('(loop $kl');
  if (vec) {
    for (let v = 0; v < V; v++) out.push(`  (local.set $b${v} (v128.load offset=${16 * v} (local.get $pb)))`);
    for (let r = 0; r < R; r++) {
      out.push(`  (local.set $av (f32x4.splat (f32.load (local.get $pa${r}))))`);
      for (let v = 0; v < V; v++) out.push(`  (local.set ${acc(r, v)} (f32x4.add (local.get ${acc(r, v)}) (f32x4.mul (local.get $av) (local.get $b${v}))))`);
      out.push(`  (local.set $pa${r} (i32.add (local.get $pa${r}) (i32.const 4)))`);
    }
  } else {
    out.push('  (local.set $bs (f32.load (local.get $pb)))');
    for (let r = 0; r < R; r++) {
      out.push(`  (local.set ${acc(r, 0)} (f32.add (local.get ${acc(r, 0)}) (f32.mul (f32.load (local.get $pa${r})) (local.get $bs))))`);
      out.push(`  (local.set $pa${r} (i32.add (local.get $pa${r}) (i32.const 4)))`);
    }
  }
  out.push('  (local.set $pb (i32.add (local.get $pb) (local.get $nb)))');
  out.push('  (br_if $kl (local.tee $k (i32.sub (local.get $k) (i32.const 1)))))');
  for (let r = 0; r < R; r++) {
    const pc = `(i32.add (i32.add (local.get $crow) (i32.mul (i32.const ${r}) (local.get $nb))) (i32.shl (local.get $j) (i32.const 2)))`;
    for (let v = 0; v < V; v++) out.push(vec ? `(v128.store offset=${16 * v} ${pc} (local.get ${acc(r, v)}))` : `(f32.store ${pc} (local.get ${acc(r, 0)}))`);
  }
  out.push(`(local.set $j (i32.add (local.get $j) (i32.const ${W})))`);
  return out.map((l) => `      ${l}`).join('\n');
}

/** One block of R rows across all N columns: 8-wide tiles, then a 4-wide one, then single columns. */
function rowBlock(R) {
  return `    (local.set $j (i32.const 0))
    (block $d8 (loop $l8
      (br_if $d8 (i32.gt_s (i32.add (local.get $j) (i32.const 8)) (local.get $N)))
${tile(R, 8)}
      (br $l8)))
    (if (i32.le_s (i32.add (local.get $j) (i32.const 4)) (local.get $N)) (then
${tile(R, 4)}
    ))
    (block $d1 (loop $l1
      (br_if $d1 (i32.ge_s (local.get $j) (local.get $N)))
${tile(R, 1)}
      (br $l1)))`;
}

const ERF_P = [-1.60960333262415e-2, -2.95459980854025e-3, -7.34990630326855e-4, -5.69250639462346e-5, -2.10102402082508e-6, 2.77068142495902e-8, -2.72614225801306e-10];
const ERF_Q = [-1.42647390514189e-2, -7.37332916720468e-3, -1.68282697438203e-3, -2.13374055278905e-4, -1.45660718464996e-5];

/** GELU of the value in local $x (type v128 or f32) into local $y, by Horner's rule. */
function geluBody(vec) {
  const t = vec ? 'f32x4' : 'f32';
  const k = (c) => (vec ? `(v128.const f32x4 ${c} ${c} ${c} ${c})` : `(f32.const ${c})`);
  const L = (n) => `(local.get $${n}${vec ? '' : 's'})`;
  const S = (n, e) => `(local.set $${n}${vec ? '' : 's'} ${e})`;
  const horner = (coef, name) => {
    const out = [S(name, k(coef[coef.length - 1]))];
    for (let i = coef.length - 2; i >= 0; i--) out.push(S(name, `(${t}.add (${t}.mul ${L(name)} ${L('z2')}) ${k(coef[i])})`));
    return out;
  };
  return [
    S('z', `(${t}.min (${t}.max (${t}.mul ${L('x')} ${k(Math.SQRT1_2)}) ${k(-4)}) ${k(4)})`),
    S('z2', `(${t}.mul ${L('z')} ${L('z')})`),
    ...horner(ERF_P, 'p'),
    ...horner(ERF_Q, 'q'),
    // y = x (0.5 + 0.5 erf), erf = z p / q
    S('y', `(${t}.mul ${L('x')} (${t}.add ${k(0.5)} (${t}.mul ${k(0.5)} (${t}.div (${t}.mul ${L('z')} ${L('p')}) ${L('q')}))))`),
  ].map((l) => `      ${l}`).join('\n');
}

function geluFunc() {
  return `  (func (export "gelu") (param $in i32) (param $out i32) (param $n i32)
    (local $i i32) (local $x v128) (local $z v128) (local $z2 v128) (local $p v128) (local $q v128) (local $y v128)
    (local $xs f32) (local $zs f32) (local $z2s f32) (local $ps f32) (local $qs f32) (local $ys f32)
    (block $dv (loop $lv
      (br_if $dv (i32.gt_s (i32.add (local.get $i) (i32.const 4)) (local.get $n)))
      (local.set $x (v128.load (i32.add (local.get $in) (i32.shl (local.get $i) (i32.const 2)))))
${geluBody(true)}
      (v128.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2))) (local.get $y))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $lv)))
    (block $ds (loop $ls
      (br_if $ds (i32.ge_s (local.get $i) (local.get $n)))
      (local.set $xs (f32.load (i32.add (local.get $in) (i32.shl (local.get $i) (i32.const 2)))))
${geluBody(false)}
      (f32.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2))) (local.get $ys))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $ls))))`;
}

function wat() {
  const accs = [];
  for (let r = 0; r < 4; r++) for (let v = 0; v < 2; v++) accs.push(`(local $acc${r}_${v} v128)`);
  return `;; Generated by scripts/gen-wasm-kernels.js; do not edit.
;; bmm(a, b, c, batch, M, K, N): C[i] = A[i] @ B[i], float32, row-major, byte offsets.
;; gelu(in, out, n): out[i] = 0.5 in[i] (1 + erf(in[i] / sqrt 2)), n floats.
(module
  (import "env" "memory" (memory 1))
  (func (export "bmm") (param $a i32) (param $b i32) (param $c i32) (param $batch i32) (param $M i32) (param $K i32) (param $N i32)
    (local $i i32) (local $j i32) (local $k i32) (local $ka i32) (local $nb i32) (local $arow i32) (local $crow i32) (local $pb i32)
    (local $pa0 i32) (local $pa1 i32) (local $pa2 i32) (local $pa3 i32)
    ${accs.join(' ')}
    (local $av v128) (local $b0 v128) (local $b1 v128)
    (local $bs f32) (local $s0 f32) (local $s1 f32) (local $s2 f32) (local $s3 f32)
    (if (i32.or (i32.le_s (local.get $K) (i32.const 0)) (i32.or (i32.le_s (local.get $M) (i32.const 0)) (i32.le_s (local.get $N) (i32.const 0)))) (then (return)))
    (local.set $ka (i32.shl (local.get $K) (i32.const 2)))
    (local.set $nb (i32.shl (local.get $N) (i32.const 2)))
    (block $bd (loop $bl
      (br_if $bd (i32.le_s (local.get $batch) (i32.const 0)))
      (local.set $i (i32.const 0))
      (local.set $arow (local.get $a))
      (local.set $crow (local.get $c))
      (block $d4 (loop $l4
        (br_if $d4 (i32.gt_s (i32.add (local.get $i) (i32.const 4)) (local.get $M)))
${rowBlock(4)}
        (local.set $arow (i32.add (local.get $arow) (i32.shl (local.get $ka) (i32.const 2))))
        (local.set $crow (i32.add (local.get $crow) (i32.shl (local.get $nb) (i32.const 2))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $l4)))
      (block $d1r (loop $l1r
        (br_if $d1r (i32.ge_s (local.get $i) (local.get $M)))
${rowBlock(1)}
        (local.set $arow (i32.add (local.get $arow) (local.get $ka)))
        (local.set $crow (i32.add (local.get $crow) (local.get $nb)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l1r)))
      (local.set $a (i32.add (local.get $a) (i32.mul (local.get $M) (local.get $ka))))
      (local.set $b (i32.add (local.get $b) (i32.mul (local.get $K) (local.get $nb))))
      (local.set $c (i32.add (local.get $c) (i32.mul (local.get $M) (local.get $nb))))
      (local.set $batch (i32.sub (local.get $batch) (i32.const 1)))
      (br $bl))))
${geluFunc()})
`;
}

async function build() {
  const wabt = await require('wabt')();
  const text = wat();
  const mod = wabt.parseWat('wasm-kernels.wat', text, { simd: true });
  mod.validate();
  const { buffer } = mod.toBinary({});
  mod.destroy();
  const base64 = Buffer.from(buffer).toString('base64');
  const ts = `// Generated by scripts/gen-wasm-kernels.js from wasm-kernels.wat; do not edit.
/** The compiled WebAssembly module (${buffer.length} bytes), base64. */
export const WASM_KERNELS_BASE64 =
  '${base64}';
`;
  return { text, ts };
}

module.exports = { build };

if (require.main === module) {
  build()
    .then(({ text, ts }) => {
      const dir = path.join(__dirname, '..', 'src', 'runtime');
      const files = { 'wasm-kernels.wat': text, 'wasm-kernels-binary.ts': ts };
      if (process.argv.includes('--check')) {
        const stale = Object.entries(files).filter(([f, c]) => !fs.existsSync(path.join(dir, f)) || fs.readFileSync(path.join(dir, f), 'utf8') !== c);
        if (stale.length) { console.error(`stale: ${stale.map(([f]) => f).join(', ')}; run node scripts/gen-wasm-kernels.js`); process.exit(1); }
        console.log('up to date');
        return;
      }
      for (const [f, c] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), c);
      console.log(`wrote ${Object.keys(files).map((f) => `src/runtime/${f}`).join(', ')}`);
    })
    .catch((e) => { console.error(e.message); process.exit(1); });
}
