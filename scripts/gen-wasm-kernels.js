#!/usr/bin/env node
/**
 * Generates the hand-written WebAssembly SIMD kernels (the first replaces tfjs-backend-wasm's
 * batched matMul: see src/runtime/wasm-kernels.ts for why) and writes:
 *   src/runtime/wasm-kernels.wat         the text, for reading
 *   src/runtime/wasm-kernels-relaxed.wat the text of the second (relaxed-SIMD) module
 *   src/runtime/wasm-kernels-binary.ts   the compiled modules, base64 (what runs)
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
 *
 * The others serve the denoiser's collaborative stage (src/denoise/collab.ts), on a memory of
 * its own: `dct8` and `idct8add` (the 8x8 DCT of blocks of 3 planes, and its inverse added
 * back with weights), and `collab`, the block matching and grouped filtering of BM3D's two
 * steps over a grid of blocks, whose groups of 1 to 32 blocks each have their own function
 * with the Walsh-Hadamard transform across the group done in registers (groups of 16 and 32
 * in stages that fit them); `collab1` does the same pass on a stride-1 grid, matching offset
 * by offset on the luma pixels.
 *
 * The second module, `bmmb(a, b, bias, hasBias, c, batch, M, K, N)`, is `bmm` by
 * f32x4.relaxed_madd (a fused multiply-add where the CPU has one) with A's values
 * splat-loaded, plus an optional bias row; engines without relaxed SIMD never load it.
 */
const fs = require('node:fs');
const path = require('node:path');

/**
 * The code of one tile: R rows (4 or 1) by W columns (8, 4 or 1) at (row block, $j). With
 * `fma` (the relaxed-SIMD module), products accumulate by f32x4.relaxed_madd (one fused
 * multiply-add where the CPU has it) and A's values are splat-loaded; with `bias`, the
 * accumulators start from the bias row at $bias when $hasBias is set (else from 0).
 */
function tile(R, W, o = {}) {
  const vec = W !== 1;
  const V = W === 8 ? 2 : 1;
  const acc = (r, v) => (vec ? `$acc${r}_${v}` : `$s${r}`);
  const out = [];
  const biasAt = '(i32.add (local.get $bias) (i32.shl (local.get $j) (i32.const 2)))';
  const init = (v) =>
    o.bias
      ? vec
        ? `(select (v128.load offset=${16 * v} ${biasAt}) (v128.const f32x4 0 0 0 0) (local.get $hasBias))`
        : `(select (f32.load ${biasAt}) (f32.const 0) (local.get $hasBias))`
      : vec
        ? '(v128.const f32x4 0 0 0 0)'
        : '(f32.const 0)';
  for (let r = 0; r < R; r++) for (let v = 0; v < V; v++) out.push(`(local.set ${acc(r, v)} ${init(v)})`);
  for (let r = 0; r < R; r++) out.push(`(local.set $pa${r} (i32.add (local.get $arow) (i32.mul (i32.const ${r}) (local.get $ka))))`);
  out.push('(local.set $pb (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))');
  out.push('(local.set $k (local.get $K))');
  out.push('(loop $kl');
  if (vec) {
    for (let v = 0; v < V; v++) out.push(`  (local.set $b${v} (v128.load offset=${16 * v} (local.get $pb)))`);
    for (let r = 0; r < R; r++) {
      out.push(o.fma ? `  (local.set $av (v128.load32_splat (local.get $pa${r})))` : `  (local.set $av (f32x4.splat (f32.load (local.get $pa${r}))))`);
      for (let v = 0; v < V; v++)
        out.push(
          o.fma
            ? `  (local.set ${acc(r, v)} (f32x4.relaxed_madd (local.get $av) (local.get $b${v}) (local.get ${acc(r, v)})))`
            : `  (local.set ${acc(r, v)} (f32x4.add (local.get ${acc(r, v)}) (f32x4.mul (local.get $av) (local.get $b${v}))))`,
        );
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
function rowBlock(R, o = {}) {
  return `    (local.set $j (i32.const 0))
    (block $d8 (loop $l8
      (br_if $d8 (i32.gt_s (i32.add (local.get $j) (i32.const 8)) (local.get $N)))
${tile(R, 8, o)}
      (br $l8)))
    (if (i32.le_s (i32.add (local.get $j) (i32.const 4)) (local.get $N)) (then
${tile(R, 4, o)}
    ))
    (block $d1 (loop $l1
      (br_if $d1 (i32.ge_s (local.get $j) (local.get $N)))
${tile(R, 1, o)}
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

/** Sum of the four lanes of a f32x4 expression. */
const hsum = (v) => `(f32.add (f32.add (f32x4.extract_lane 0 ${v}) (f32x4.extract_lane 1 ${v})) (f32.add (f32x4.extract_lane 2 ${v}) (f32x4.extract_lane 3 ${v})))`;
const vlen = 192 * 4; // bytes of one block's coefficients (3 planes of 64)

/** `n` lines from `f(i)`, indented. */
const rep = (n, f, ind = 10) => Array.from({ length: n }, (_, i) => ' '.repeat(ind) + f(i)).join('\n');

/** A counted loop: `v` from `from` while below `to` (expressions), step `step`; with `next`, `(br $<name>c)` in the body goes on to the next turn. */
function loop(name, v, from, to, step, body, next = false) {
  return `(local.set $${v} ${from})
        (block $${name}d (loop $${name}l
          (br_if $${name}d (i32.ge_s (local.get $${v}) ${to}))
${next ? `(block $${name}c
${body})` : body}
          (local.set $${v} (i32.add (local.get $${v}) ${step}))
          (br $${name}l)))`;
}

/**
 * $grp<gn>: one group of gn blocks (member indices at oB) of the collaborative pass: per plane,
 * 16 columns of 4 coefficients, each loaded from every member, transformed across the group
 * in registers (the same butterflies, in the same order, as a Walsh-Hadamard transform over
 * rows in memory), shrunk, transformed back and kept at oT; then the plane's weight, and its
 * estimates added to the members' sums at oA and weights at oW.
 */
/**
 * The column loop of $grp<gn> for groups of 16 and 32, in stages that fit the registers (8
 * vectors live, not 2 gn): the Walsh-Hadamard transform across the group as its butterflies
 * within runs of 8 members (h = 1, 2, 4), kept in T, then across the runs (h = 8, 16) for each
 * of the 8 positions; the pilot's spectrum becomes the Wiener gains in the scratch at oQ (gn
 * vectors past T). The inverse transform runs the stages the other way round.
 */
function stagedColumn(c, gn) {
  const S = gn / 8;
  const A = [...Array(8).keys()].map((j) => `a${j}`);
  const bfly = (names, hs) => {
    const out = [];
    for (const h of hs)
      for (let i = 0; i < names.length; i += 2 * h)
        for (let j = i; j < i + h; j++)
          out.push(`(local.set $x (local.get $${names[j]})) (local.set $${names[j]} (f32x4.add (local.get $x) (local.get $${names[j + h]}))) (local.set $${names[j + h]} (f32x4.sub (local.get $x) (local.get $${names[j + h]})))`);
    return out;
  };
  const across = [...Array(Math.log2(S)).keys()].map((k) => 1 << k);
  const runs = [...Array(S).keys()];
  const member = (src, t) => `(v128.load offset=${c * 256} (i32.add (local.get $${src}) (i32.add (local.get $o${t}) (local.get $off))))`;
  const tAt = (t) => `offset=${t * 256} (i32.add (local.get $oT) (local.get $off))`;
  const col = [];
  // The pilot's spectrum (Wiener): within runs, across runs, then the gains.
  col.push('(if (i32.eqz (local.get $hard)) (then');
  for (const b of runs) {
    for (let j = 0; j < 8; j++) col.push(`  (local.set $a${j} ${member('oP', 8 * b + j)})`);
    col.push(...bfly(A, [1, 2, 4]).map((l) => '  ' + l));
    for (let j = 0; j < 8; j++) col.push(`  (v128.store offset=${(8 * b + j) * 16} (local.get $oQ) (local.get $a${j}))`);
  }
  for (let j = 0; j < 8; j++) {
    for (const r of runs) col.push(`  (local.set $a${r} (v128.load offset=${(j + 8 * r) * 16} (local.get $oQ)))`);
    col.push(...bfly(A.slice(0, S), across).map((l) => '  ' + l));
    for (const r of runs) col.push(`  (local.set $x (f32x4.mul (local.get $a${r}) (local.get $a${r}))) (local.set $x (f32x4.div (local.get $x) (f32x4.add (local.get $x) (local.get $vns2)))) (local.set $sw (f32x4.add (local.get $sw) (f32x4.mul (local.get $x) (local.get $x)))) (v128.store offset=${(j + 8 * r) * 16} (local.get $oQ) (local.get $x))`);
  }
  col.push('))');
  // The noisy group: within runs into T; across runs, shrunk, back across runs; back within runs.
  for (const b of runs) {
    for (let j = 0; j < 8; j++) col.push(`(local.set $a${j} ${member('oN', 8 * b + j)})`);
    col.push(...bfly(A, [1, 2, 4]));
    for (let j = 0; j < 8; j++) col.push(`(v128.store ${tAt(8 * b + j)} (local.get $a${j}))`);
  }
  for (let j = 0; j < 8; j++) {
    for (const r of runs) col.push(`(local.set $a${r} (v128.load ${tAt(j + 8 * r)}))`);
    col.push(...bfly(A.slice(0, S), across));
    col.push('(if (local.get $hard) (then');
    for (const r of runs) col.push(`  (local.set $mask (f32x4.ge (f32x4.abs (local.get $a${r})) (local.get $vthr))) (local.set $a${r} (v128.and (local.get $a${r}) (local.get $mask))) (local.set $kept (i32x4.sub (local.get $kept) (local.get $mask)))`);
    col.push(') (else');
    for (const r of runs) col.push(`  (local.set $a${r} (f32x4.mul (local.get $a${r}) (v128.load offset=${(j + 8 * r) * 16} (local.get $oQ))))`);
    col.push('))');
    col.push(...bfly(A.slice(0, S), across));
    for (const r of runs) col.push(`(v128.store ${tAt(j + 8 * r)} (local.get $a${r}))`);
  }
  for (const b of runs) {
    for (let j = 0; j < 8; j++) col.push(`(local.set $a${j} (v128.load ${tAt(8 * b + j)}))`);
    col.push(...bfly(A, [1, 2, 4]));
    for (let j = 0; j < 8; j++) col.push(`(v128.store ${tAt(8 * b + j)} (local.get $a${j}))`);
  }
  return col;
}

function groupFunc(gn) {
  const T = [...Array(gn).keys()];
  const butterflies = (v) => {
    const out = [];
    for (let h = 1; h < gn; h *= 2)
      for (let i = 0; i < gn; i += 2 * h)
        for (let j = i; j < i + h; j++)
          out.push(`(local.set $x (local.get $${v}${j})) (local.set $${v}${j} (f32x4.add (local.get $x) (local.get $${v}${j + h}))) (local.set $${v}${j + h} (f32x4.sub (local.get $x) (local.get $${v}${j + h})))`);
    return out;
  };
  const plane = (c) => {
    const col = gn >= 16 ? stagedColumn(c, gn) : [];
    if (gn < 16) {
    for (const t of T) col.push(`(local.set $g${t} (v128.load offset=${c * 256} (i32.add (local.get $oN) (i32.add (local.get $o${t}) (local.get $off)))))`);
    col.push(...butterflies('g'));
    col.push(`(if (local.get $hard) (then`);
    for (const t of T) col.push(`  (local.set $mask (f32x4.ge (f32x4.abs (local.get $g${t})) (local.get $vthr))) (local.set $g${t} (v128.and (local.get $g${t}) (local.get $mask))) (local.set $kept (i32x4.sub (local.get $kept) (local.get $mask)))`);
    col.push(`) (else`);
    for (const t of T) col.push(`  (local.set $q${t} (v128.load offset=${c * 256} (i32.add (local.get $oP) (i32.add (local.get $o${t}) (local.get $off)))))`);
    col.push(...butterflies('q').map((l) => '  ' + l));
    for (const t of T) col.push(`  (local.set $x (f32x4.mul (local.get $q${t}) (local.get $q${t}))) (local.set $x (f32x4.div (local.get $x) (f32x4.add (local.get $x) (local.get $vns2)))) (local.set $g${t} (f32x4.mul (local.get $g${t}) (local.get $x))) (local.set $sw (f32x4.add (local.get $sw) (f32x4.mul (local.get $x) (local.get $x))))`);
    col.push(`))`);
    col.push(...butterflies('g'));
    for (const t of T) col.push(`(v128.store offset=${t * 256} (i32.add (local.get $oT) (local.get $off)) (local.get $g${t}))`);
    }
    const ksum = '(i32.add (i32.add (i32x4.extract_lane 0 (local.get $kept)) (i32x4.extract_lane 1 (local.get $kept))) (i32.add (i32x4.extract_lane 2 (local.get $kept)) (i32x4.extract_lane 3 (local.get $kept))))';
    const acc = [];
    for (const t of T) {
      acc.push(`(local.set $p (i32.add (local.get $oA) (local.get $o${t})))`);
      for (let u = 0; u < 16; u++) acc.push(`(v128.store offset=${c * 256 + 16 * u} (local.get $p) (f32x4.add (v128.load offset=${c * 256 + 16 * u} (local.get $p)) (f32x4.mul (local.get $vw) (v128.load offset=${t * 256 + 16 * u} (local.get $oT)))))`);
      acc.push(`(local.set $p (i32.add (local.get $oW) (i32.add (i32.div_u (local.get $o${t}) (i32.const 64)) (i32.const ${4 * c}))))`);
      acc.push(`(f32.store (local.get $p) (f32.add (f32.load (local.get $p)) (local.get $wt)))`);
    }
    return `    (local.set $kept (v128.const i32x4 0 0 0 0))
    (local.set $sw (v128.const f32x4 0 0 0 0))
    (local.set $off (i32.const 0))
    (loop $col${c}
${col.map((l) => '      ' + l).join('\n')}
      (br_if $col${c} (i32.lt_u (local.tee $off (i32.add (local.get $off) (i32.const 16))) (i32.const 256))))
    (local.set $wt (select
      (f32.div (f32.const 1) (f32.convert_i32_s (select ${ksum} (i32.const 1) (i32.gt_s ${ksum} (i32.const 1)))))
      (f32.div (f32.const 1) (f32.max ${hsum('(local.get $sw)')} (f32.const 1e-6)))
      (local.get $hard)))
    (local.set $vw (f32x4.splat (f32.div (local.get $wt) (f32.const ${gn}))))
${acc.map((l) => '    ' + l).join('\n')}`;
  };
  const locals = gn >= 16 ? `(local $oQ i32) ${T.map((t) => `(local $o${t} i32)`).join(' ')} ${[...Array(8).keys()].map((j) => `(local $a${j} v128)`).join(' ')}` : T.map((t) => `(local $o${t} i32) (local $g${t} v128) (local $q${t} v128)`).join(' ');
  return `  (func $grp${gn} (param $oN i32) (param $oP i32) (param $oA i32) (param $oW i32) (param $oB i32) (param $oT i32) (param $hard i32) (param $thr f32) (param $ns2 f32)
    (local $off i32) (local $p i32) (local $wt f32) (local $x v128) (local $mask v128) (local $kept v128) (local $sw v128) (local $vw v128) (local $vthr v128) (local $vns2 v128) ${locals}
    (local.set $vthr (f32x4.splat (local.get $thr)))
    (local.set $vns2 (f32x4.splat (local.get $ns2)))
${gn >= 16 ? `    (local.set $oQ (i32.add (local.get $oT) (i32.const ${gn * 256})))\n` : ''}${T.map((t) => `    (local.set $o${t} (i32.mul (i32.load offset=${4 * t} (local.get $oB)) (i32.const ${vlen})))`).join('\n')}
${[0, 1, 2].map(plane).join('\n')})
`;
}

/** Group sizes the collaborative pass handles. */
const GROUP_SIZES = [1, 2, 4, 8, 16, 32];

/**
 * The sorted insertion of a candidate ($d, $cb) into a reference's list: from position `i` (a
 * local, counted down) the entries further than $d move up one; distances at D and block
 * indices at Bl (locals holding byte offsets). Entry 0, the reference, never moves.
 */
function insertSorted(i, D, Bl, ind) {
  const at = (p, e) => `(i32.add (local.get $${p}) (i32.shl ${e} (i32.const 2)))`;
  const prev = `(i32.sub (local.get $${i}) (i32.const 1))`;
  return [
    '(block $insd (loop $insl',
    `  (br_if $insd (i32.le_s (local.get $${i}) (i32.const 1)))`,
    `  (br_if $insd (i32.eqz (f32.gt (f32.load ${at(D, prev)}) (local.get $d))))`,
    `  (f32.store ${at(D, `(local.get $${i})`)} (f32.load ${at(D, prev)}))`,
    `  (i32.store ${at(Bl, `(local.get $${i})`)} (i32.load ${at(Bl, prev)}))`,
    `  (local.set $${i} (i32.sub (local.get $${i}) (i32.const 1)))`,
    '  (br $insl)))',
    `(f32.store ${at(D, `(local.get $${i})`)} (local.get $d))`,
    `(i32.store ${at(Bl, `(local.get $${i})`)} (local.get $cb))`,
  ].join('\n' + ind);
}

/**
 * The group of a reference whose list (m members, block indices at the local `Bl`) is full
 * enough: its largest power-of-2 head goes to $grp<gn>, with the hard threshold scaled by
 * sqrt(gn) into $d.
 */
function groupCall(Bl, ind) {
  return [
    '(local.set $gn (i32.const 1))',
    '(block $gd (loop $gl',
    '  (br_if $gd (i32.gt_s (i32.shl (local.get $gn) (i32.const 1)) (local.get $m)))',
    '  (local.set $gn (i32.shl (local.get $gn) (i32.const 1)))',
    '  (br $gl)))',
    '(local.set $d (f32.mul (local.get $thr0) (f32.sqrt (f32.convert_i32_s (local.get $gn)))))',
    ...GROUP_SIZES.map((n) => `(if (i32.eq (local.get $gn) (i32.const ${n})) (then (call $grp${n} (local.get $oN) (local.get $oP) (local.get $oA) (local.get $oW) (local.get $${Bl}) (local.get $oG) (local.get $hard) (local.get $d) (f32.mul (local.get $s2) (f32.convert_i32_s (local.get $gn))))))`),
  ].join('\n' + ind);
}

/**
 * collab(oN, oP, oA, oW, oS, nx, ny, R, K, hard, tau, thr0, s2, y0, y1, refCols): the collaborative pass of
 * src/denoise/collab.ts over the reference rows [y0, y1) of a grid of nx x ny blocks (see groupsJs there, which it
 * matches): N and P hold each block's 192 DCT coefficients (3 planes), A receives the summed
 * estimates and W the summed weights per block and plane; S is scratch of 256 K + 512 + 8 (K + 1) bytes
 * (T, the staged groups' gains, then the candidates' distances and indices).
 * refCols: 0 (every block of a row is a reference) or the byte offset of nx i32 flags, the
 * columns whose blocks are references (members still come from every block).
 */
function collabFunc() {
  const dist = (from, n) => rep(n, (u) => `(local.set $x (f32x4.sub (v128.load offset=${16 * (from + u)} (local.get $ro)) (v128.load offset=${16 * (from + u)} (local.get $co)))) (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $x) (local.get $x))))`, 16);
  return `  (func (export "collab") (param $oN i32) (param $oP i32) (param $oA i32) (param $oW i32) (param $oS i32)
    (param $nx i32) (param $ny i32) (param $R i32) (param $K i32) (param $hard i32) (param $tau f32) (param $thr0 f32) (param $s2 f32) (param $y0 i32) (param $y1 i32) (param $refCols i32)
    (local $oG i32) (local $oD i32) (local $oB i32)
    (local $ix i32) (local $iy i32) (local $jx i32) (local $jy i32) (local $jx0 i32) (local $jx1 i32) (local $jy1 i32)
    (local $ref i32) (local $ro i32) (local $cb i32) (local $co i32) (local $m i32) (local $i i32) (local $gn i32)
    (local $limit f32) (local $d f32) (local $acc v128) (local $x v128)
    (local.set $oG (local.get $oS))
    (local.set $oD (i32.add (local.get $oG) (i32.add (i32.mul (local.get $K) (i32.const 256)) (i32.const 512))))
    (local.set $oB (i32.add (local.get $oD) (i32.shl (i32.add (local.get $K) (i32.const 1)) (i32.const 2))))
    ${loop('y', 'iy', '(local.get $y0)', '(local.get $y1)', '(i32.const 1)', `      ${loop('x', 'ix', '(i32.const 0)', '(local.get $nx)', '(i32.const 1)', `
      (if (i32.eqz (i32.or (i32.eqz (local.get $refCols)) (i32.load (i32.add (local.get $refCols) (i32.shl (local.get $ix) (i32.const 2)))))) (then (br $xc)))
      (local.set $ref (i32.add (i32.mul (local.get $iy) (local.get $nx)) (local.get $ix)))
      (local.set $ro (i32.add (local.get $oP) (i32.mul (local.get $ref) (i32.const ${vlen}))))
      (f32.store (local.get $oD) (f32.const -1))
      (i32.store (local.get $oB) (local.get $ref))
      (local.set $m (i32.const 1))
      (local.set $jx0 (select (i32.sub (local.get $ix) (local.get $R)) (i32.const 0) (i32.gt_s (i32.sub (local.get $ix) (local.get $R)) (i32.const 0))))
      (local.set $jx1 (select (i32.add (local.get $ix) (local.get $R)) (i32.sub (local.get $nx) (i32.const 1)) (i32.lt_s (i32.add (local.get $ix) (local.get $R)) (i32.sub (local.get $nx) (i32.const 1)))))
      (local.set $jy1 (select (i32.add (local.get $iy) (local.get $R)) (i32.sub (local.get $ny) (i32.const 1)) (i32.lt_s (i32.add (local.get $iy) (local.get $R)) (i32.sub (local.get $ny) (i32.const 1)))))
      ${loop('cy', 'jy', '(select (i32.sub (local.get $iy) (local.get $R)) (i32.const 0) (i32.gt_s (i32.sub (local.get $iy) (local.get $R)) (i32.const 0)))', '(i32.add (local.get $jy1) (i32.const 1))', '(i32.const 1)', `        ${loop('cx', 'jx', '(local.get $jx0)', '(i32.add (local.get $jx1) (i32.const 1))', '(i32.const 1)', `
          (local.set $cb (i32.add (i32.mul (local.get $jy) (local.get $nx)) (local.get $jx)))
          (if (i32.ne (local.get $cb) (local.get $ref)) (then
            (local.set $limit (select (f32.load (i32.add (local.get $oD) (i32.shl (i32.sub (local.get $K) (i32.const 1)) (i32.const 2)))) (local.get $tau) (i32.eq (local.get $m) (local.get $K))))
            (local.set $co (i32.add (local.get $oP) (i32.mul (local.get $cb) (i32.const ${vlen}))))
            (local.set $acc (v128.const f32x4 0 0 0 0))
${dist(0, 4)}
            (if (f32.lt ${hsum('(local.get $acc)')} (local.get $limit)) (then
${dist(4, 12)}
              (local.set $d ${hsum('(local.get $acc)')})
              (if (f32.lt (local.get $d) (local.get $limit)) (then
                (local.set $i (select (local.get $m) (i32.sub (local.get $K) (i32.const 1)) (i32.lt_s (local.get $m) (local.get $K))))
                (if (i32.lt_s (local.get $m) (local.get $K)) (then (local.set $m (i32.add (local.get $m) (i32.const 1)))))
                ${insertSorted('i', 'oD', 'oB', '                ')}))))))`)}`)}
      ${groupCall('oB', '      ')}`, true)}`)})
`;
}

/**
 * collab1(oN, oP, oY, oA, oW, oS, Wd, nx, ny, R, K, hard, tau, thr0, s2, oRows, nRows, oRefs, nRefs): the
 * pass of `collab` over some reference rows of a stride-1 grid (a block at every pixel), with
 * the matching done offset by offset instead of candidate by candidate: for each offset
 * (dx, dy) within R, the squared differences between the luma plane at oY (Wd floats a row)
 * and the plane moved by (dx, dy) are computed once for the rows of all the reference rows
 * given, then summed down 8 rows (in a fixed order, so tiles agree with the whole) and across
 * 8 columns: the distances of all the references to their candidates at that offset, in
 * SIMD, with no branch per candidate. These are the distances of the blocks' pixels; with an
 * orthonormal transform (DCT, Haar), those of their luma coefficients (Parseval). Candidates
 * reach each reference in the order `collab` scans them (rows, then columns), so its sorted
 * insertion keeps the same members. oRows: nRows i32 reference rows, ascending; oRefs: nRefs
 * i32 reference columns, ascending. S: scratch of 256 K + 512 + 4 (Wd + 16) (span + 1) + 4 (nx + 8)
 * (2 + nRows) + 4 nRows nRefs (1 + 2 K) bytes, span = the last row - the first + 8.
 */
function collab1Func() {
  const L = (e) => `(i32.shl ${e} (i32.const 2))`;
  const ld = (name) => `(local.get $${name})`;
  const rowBytes = L('(i32.add (local.get $Wd) (i32.const 16))');
  // One row of squared differences at pa, pb into $x; step: that, then both pointers a plane row down.
  const sq = '(f32x4.mul (local.tee $x (f32x4.sub (v128.load (local.get $pa)) (v128.load (local.get $pb)))) (local.get $x))';
  const step = `(local.set $x ${sq}) (local.set $pa (i32.add (local.get $pa) (local.get $wb))) (local.set $pb (i32.add (local.get $pb) (local.get $wb)))`;
  // The down sums c at the v-th vector from pa (Q at row r + Q at row r + 4); s1 / s2: lanes 1..4 / 2..5 of (a, b).
  const col = (v) => `(f32x4.add (v128.load offset=${16 * v} (local.get $pa)) (v128.load offset=${16 * v} (local.get $pb)))`;
  const s1 = (a, b) => `(i8x16.shuffle 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 (local.get $${a}) (local.get $${b}))`;
  const s2 = (a, b) => `(i8x16.shuffle 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 (local.get $${a}) (local.get $${b}))`;
  return `  (func (export "collab1") (param $oN i32) (param $oP i32) (param $oY i32) (param $oA i32) (param $oW i32) (param $oS i32)
    (param $Wd i32) (param $nx i32) (param $ny i32) (param $R i32) (param $K i32) (param $hard i32) (param $tau f32) (param $thr0 f32) (param $s2 f32)
    (param $oRows i32) (param $nRows i32) (param $oRefs i32) (param $nRefs i32)
    (local $oG i32) (local $oE i32) (local $oC i32) (local $oH i32) (local $oM i32) (local $oLim i32) (local $oD i32) (local $oB i32) (local $oMap i32) (local $nc i32) (local $bits i32) (local $lane i32) (local $pl i32)
    (local $y0 i32) (local $span i32) (local $rb i32) (local $dy i32) (local $jy i32) (local $t i32) (local $k i32) (local $q i32) (local $iy i32)
    (local $dx i32) (local $x0 i32) (local $x1 i32) (local $u i32) (local $u1 i32) (local $r i32) (local $rx i32) (local $row i32)
    (local $pa i32) (local $pb i32) (local $pd i32) (local $pbb i32) (local $m i32) (local $i i32) (local $gn i32) (local $cb i32)
    (local $d f32) (local $acc v128) (local $x v128)
    (local $tlo i32) (local $thi i32) (local $wb i32) (local $ep v128) (local $r2 v128) (local $r3 v128) (local $pn v128) (local $vc v128) (local $p2a v128) (local $p2b v128) (local $p2c v128) (local $p4a v128) (local $p4b v128)
    (local.set $wb ${L('(local.get $Wd)')})
    (local.set $y0 (i32.load ${ld('oRows')}))
    (local.set $span (i32.add (i32.sub (i32.load (i32.add ${ld('oRows')} ${L('(i32.sub (local.get $nRows) (i32.const 1))')})) ${ld('y0')}) (i32.const 8)))
    (local.set $rb ${rowBytes})
    (local.set $oG ${ld('oS')})
    (local.set $oE (i32.add ${ld('oG')} (i32.add (i32.shl ${ld('K')} (i32.const 8)) (i32.const 512))))
    (local.set $oC (i32.add ${ld('oE')} (i32.mul ${ld('span')} ${ld('rb')})))
    (local.set $oH (i32.add ${ld('oC')} ${ld('rb')}))
    (local.set $oM (i32.add ${ld('oH')} ${L('(i32.add (local.get $nx) (i32.const 8))')}))
    (local.set $nc (i32.add ${ld('nx')} (i32.const 8)))
    (local.set $q (i32.mul ${ld('nRows')} ${ld('nRefs')}))
    (local.set $oMap (i32.add ${ld('oM')} ${L('(local.get $q)')}))
    (local.set $oLim (i32.add ${ld('oMap')} ${L('(local.get $nc)')}))
    (local.set $oD (i32.add ${ld('oLim')} ${L('(i32.mul (local.get $nRows) (local.get $nc))')}))
    (local.set $oB (i32.add ${ld('oD')} ${L('(i32.mul (local.get $q) (local.get $K))')}))
    ;; Limits per row and column: -1 (never reached) where no reference is.
    ${loop('l', 'k', '(i32.const 0)', '(i32.mul (local.get $nRows) (local.get $nc))', '(i32.const 1)', `
          (f32.store (i32.add ${ld('oLim')} ${L('(local.get $k)')}) (f32.const -1))`)}
    ${loop('p', 'r', '(i32.const 0)', '(local.get $nRefs)', '(i32.const 1)', `
          (i32.store (i32.add ${ld('oMap')} ${L('(i32.load (i32.add (local.get $oRefs) (i32.shl (local.get $r) (i32.const 2))))')}) ${ld('r')})`)}
    ;; Every list starts with its reference, at distance -1; its limit is tau until it is full (at once for K = 1).
    ${loop('i', 'k', '(i32.const 0)', '(local.get $q)', '(i32.const 1)', `
          (local.set $row (i32.load (i32.add ${ld('oRows')} ${L('(i32.div_u (local.get $k) (local.get $nRefs))')})))
          (local.set $rx (i32.load (i32.add ${ld('oRefs')} ${L('(i32.rem_u (local.get $k) (local.get $nRefs))')})))
          (i32.store (i32.add ${ld('oM')} ${L('(local.get $k)')}) (i32.const 1))
          (f32.store (i32.add ${ld('oLim')} ${L('(i32.add (i32.mul (i32.div_u (local.get $k) (local.get $nRefs)) (local.get $nc)) (local.get $rx))')}) (select ${ld('tau')} (f32.const -1) (i32.gt_s ${ld('K')} (i32.const 1))))
          (local.set $pd ${L('(i32.mul (local.get $k) (local.get $K))')})
          (f32.store (i32.add ${ld('oD')} ${ld('pd')}) (f32.const -1))
          (i32.store (i32.add ${ld('oB')} ${ld('pd')}) (i32.add (i32.mul ${ld('row')} ${ld('nx')}) ${ld('rx')}))`)}
    ${loop('y', 'dy', '(i32.sub (i32.const 0) (local.get $R))', '(i32.add (local.get $R) (i32.const 1))', '(i32.const 1)', `
        ${loop('x', 'dx', '(i32.sub (i32.const 0) (local.get $R))', '(i32.add (local.get $R) (i32.const 1))', '(i32.const 1)', `
          (if (i32.eqz (i32.or ${ld('dy')} ${ld('dx')})) (then (br $xc)))
          ;; References at origins x0..x1 have their candidate at x + dx inside the grid.
          (local.set $x0 (select (i32.const 0) (i32.sub (i32.const 0) ${ld('dx')}) (i32.ge_s ${ld('dx')} (i32.const 0))))
          (local.set $x1 (select (i32.sub (i32.sub ${ld('nx')} (i32.const 1)) ${ld('dx')}) (i32.sub ${ld('nx')} (i32.const 1)) (i32.ge_s ${ld('dx')} (i32.const 0))))
          (if (i32.gt_s ${ld('x0')} ${ld('x1')}) (then (br $xc)))
          (local.set $u1 (i32.add ${ld('x1')} (i32.const 8)))
          ;; Rows tlo .. thi - 1 (from y0) have their moved row inside the plane; a reference needs 8 of them.
          (local.set $t (i32.add ${ld('y0')} ${ld('dy')}))
          (local.set $tlo (select (i32.const 0) (i32.sub (i32.const 0) ${ld('t')}) (i32.ge_s ${ld('t')} (i32.const 0))))
          (local.set $thi (select ${ld('span')} (i32.sub (i32.add ${ld('ny')} (i32.const 7)) ${ld('t')}) (i32.le_s ${ld('span')} (i32.sub (i32.add ${ld('ny')} (i32.const 7)) ${ld('t')}))))
          (if (i32.lt_s (i32.sub ${ld('thi')} ${ld('tlo')}) (i32.const 8)) (then (br $xc)))
          ;; Columns x0 .. x1 + 7, 4 at a time, each down its rows: the squared differences e, and at
          ;; row t - 3 the first half of the tree of 8 rows, Q = (e[t-3] + e[t-2]) + (e[t-1] + e[t]).
          ${loop('e', 'u', '(local.get $x0)', '(local.get $u1)', '(i32.const 4)', `
            (local.set $pa (i32.add ${ld('oY')} ${L('(i32.add (i32.mul (i32.add (local.get $y0) (local.get $tlo)) (local.get $Wd)) (local.get $u))')}))
            (local.set $pb (i32.add ${ld('oY')} ${L('(i32.add (i32.mul (i32.add (i32.add (local.get $y0) (local.get $tlo)) (local.get $dy)) (local.get $Wd)) (i32.add (local.get $u) (local.get $dx)))')}))
            (local.set $pd (i32.add (i32.add ${ld('oE')} (i32.mul ${ld('tlo')} ${ld('rb')})) ${L('(local.get $u)')}))
            ${step}
            (local.set $ep ${ld('x')})
            ${step}
            (local.set $r3 (f32x4.add ${ld('ep')} ${ld('x')})) (local.set $ep ${ld('x')})
            ${step}
            (local.set $r2 (f32x4.add ${ld('ep')} ${ld('x')})) (local.set $ep ${ld('x')})
            ${loop('t', 't', '(i32.add (local.get $tlo) (i32.const 3))', '(local.get $thi)', '(i32.const 1)', `
              ${step}
              (local.set $pn (f32x4.add ${ld('ep')} ${ld('x')})) (local.set $ep ${ld('x')})
              (v128.store ${ld('pd')} (f32x4.add ${ld('r3')} ${ld('pn')}))
              (local.set $pd (i32.add ${ld('pd')} ${ld('rb')}))
              (local.set $r3 ${ld('r2')}) (local.set $r2 ${ld('pn')})`)}`)}
          ${loop('w', 'i', '(i32.const 0)', '(local.get $nRows)', '(i32.const 1)', `
            (local.set $iy (i32.load (i32.add ${ld('oRows')} ${L('(local.get $i)')})))
            (local.set $jy (i32.add ${ld('iy')} ${ld('dy')}))
            (if (i32.or (i32.lt_s ${ld('jy')} (i32.const 0)) (i32.ge_s ${ld('jy')} ${ld('ny')})) (then (br $wc)))
            ;; Down 8 rows (Q at rows r and r + 4) and across 8 columns in the same tree, 4 references at a
            ;; time: P2 = c[u] + c[u+1], P4 = P2[u] + P2[u+2], the distance P4[u] + P4[u+4] into H.
            (local.set $pa (i32.add (i32.add ${ld('oE')} (i32.mul (i32.sub ${ld('iy')} ${ld('y0')}) ${ld('rb')})) ${L('(local.get $x0)')}))
            (local.set $pb (i32.add ${ld('pa')} (i32.shl ${ld('rb')} (i32.const 2))))
            (local.set $x ${col(0)})
            (local.set $vc ${col(1)})
            (local.set $p2a (f32x4.add ${ld('x')} ${s1('x', 'vc')}))
            (local.set $x ${col(2)})
            (local.set $p2b (f32x4.add ${ld('vc')} ${s1('vc', 'x')}))
            (local.set $vc ${ld('x')})
            (local.set $p4a (f32x4.add ${ld('p2a')} ${s2('p2a', 'p2b')}))
            (local.set $pd (i32.add ${ld('oH')} ${L('(local.get $x0)')}))
            ${loop('h', 'u', '(local.get $x0)', '(i32.add (local.get $x1) (i32.const 1))', '(i32.const 4)', `
              (local.set $x ${col(3)})
              (local.set $p2c (f32x4.add ${ld('vc')} ${s1('vc', 'x')}))
              (local.set $vc ${ld('x')})
              (local.set $p4b (f32x4.add ${ld('p2b')} ${s2('p2b', 'p2c')}))
              (v128.store ${ld('pd')} (f32x4.add ${ld('p4a')} ${ld('p4b')}))
              (local.set $p2b ${ld('p2c')}) (local.set $p4a ${ld('p4b')})
              (local.set $pa (i32.add ${ld('pa')} (i32.const 16))) (local.set $pb (i32.add ${ld('pb')} (i32.const 16))) (local.set $pd (i32.add ${ld('pd')} (i32.const 16)))`)}
            ;; The references under their limit, 4 columns at a time; each into its sorted list.
            (local.set $pl (i32.add ${ld('oLim')} ${L('(i32.mul (local.get $i) (local.get $nc))')}))
            ${loop('r', 'u', '(local.get $x0)', '(i32.add (local.get $x1) (i32.const 1))', '(i32.const 4)', `
              (local.set $bits (i32x4.bitmask (f32x4.lt (v128.load (i32.add ${ld('oH')} ${L('(local.get $u)')})) (v128.load (i32.add ${ld('pl')} ${L('(local.get $u)')})))))
              (if (i32.eqz ${ld('bits')}) (then (br $rc)))
              ${loop('n', 'lane', '(i32.const 0)', '(i32.const 4)', '(i32.const 1)', `
              (local.set $rx (i32.add ${ld('u')} ${ld('lane')}))
              (if (i32.or (i32.eqz (i32.and ${ld('bits')} (i32.shl (i32.const 1) ${ld('lane')}))) (i32.gt_s ${ld('rx')} ${ld('x1')})) (then (br $nc)))
              (local.set $d (f32.load (i32.add ${ld('oH')} ${L('(local.get $rx)')})))
              (local.set $k (i32.add (i32.mul ${ld('i')} ${ld('nRefs')}) (i32.load (i32.add ${ld('oMap')} ${L('(local.get $rx)')}))))
              (local.set $m (i32.load (i32.add ${ld('oM')} ${L('(local.get $k)')})))
              (local.set $pd (i32.add ${ld('oD')} ${L('(i32.mul (local.get $k) (local.get $K))')}))
              (local.set $pbb (i32.add ${ld('oB')} ${L('(i32.mul (local.get $k) (local.get $K))')}))
              (local.set $cb (i32.add (i32.mul ${ld('jy')} ${ld('nx')}) (i32.add ${ld('rx')} ${ld('dx')})))
              (local.set $q (select ${ld('m')} (i32.sub ${ld('K')} (i32.const 1)) (i32.lt_s ${ld('m')} ${ld('K')})))
              (if (i32.lt_s ${ld('m')} ${ld('K')}) (then (local.set $m (i32.add ${ld('m')} (i32.const 1))) (i32.store (i32.add ${ld('oM')} ${L('(local.get $k)')}) ${ld('m')})))
              ${insertSorted('q', 'pd', 'pbb', '              ')}
              (if (i32.eq ${ld('m')} ${ld('K')}) (then (f32.store (i32.add ${ld('pl')} ${L('(local.get $rx)')}) (f32.load (i32.add ${ld('pd')} ${L('(i32.sub (local.get $K) (i32.const 1))')})))))`, true)}`, true)}`, true)}`, true)}`)}
    ;; The groups, row by row, reference by reference (as collab takes them).
    ${loop('g', 'k', '(i32.const 0)', '(i32.mul (local.get $nRows) (local.get $nRefs))', '(i32.const 1)', `
          (local.set $m (i32.load (i32.add ${ld('oM')} ${L('(local.get $k)')})))
          (local.set $pbb (i32.add ${ld('oB')} ${L('(i32.mul (local.get $k) (local.get $K))')}))
          ${groupCall('pbb', '          ')}`)})
`;
}

/** The orthonormal 8-point DCT-II matrix: DCT8[k][n]. */
const DCT8 = Array.from({ length: 8 }, (_, k) => Array.from({ length: 8 }, (_, n) => (k === 0 ? Math.sqrt(1 / 8) : Math.sqrt(2 / 8)) * Math.cos((Math.PI * (2 * n + 1) * k) / 16)));
/** The orthonormal 8-point Haar wavelet matrix (3 levels): HAAR8[k][n] (the same as rows1d('haar') in src/denoise/blocks.ts). */
const HAAR8 = (() => {
  const s8 = Math.sqrt(1 / 8);
  const rows = [Array(8).fill(s8), [...Array(4).fill(s8), ...Array(4).fill(-s8)]];
  for (let k = 0; k < 2; k++) rows.push(Array.from({ length: 8 }, (_, n) => (n >> 2 === k ? (((n >> 1) & 1) === 0 ? 0.5 : -0.5) : 0)));
  for (let k = 0; k < 4; k++) rows.push(Array.from({ length: 8 }, (_, n) => (n >> 1 === k ? ((n & 1) === 0 ? Math.SQRT1_2 : -Math.SQRT1_2) : 0)));
  return rows;
})();
/**
 * BM3D's first-step wavelet, bior1.5, as the 2-D periodic 3-level decomposition of an 8x8 block
 * (each level filters the rows and columns of the previous level's lowpass corner: 8x8, 4x4,
 * 2x2). Its first level is separable: BIOR.fwd (8x8, lowpass rows then highpass rows) on the
 * rows and columns; the next two act on the 4x4 lowpass corner alone, BIOR.ll (16x16 on its
 * coefficients u * 4 + v). The inverse: BIOR.llInv on the corner, then BIOR.syn (the inverse of
 * BIOR.fwd, transposed, as idctFunc takes its matrix). The same transform as biorMatrices in
 * src/denoise/blocks.ts (a 64x64 matrix for the JavaScript path), which the tests compare with
 * these kernels.
 */
const BIOR = (() => {
  const lo = [3, -3, -22, 22, 128, 128, 22, -22, -3, 3].map((v) => v / (Math.SQRT2 * 128));
  const hi = [0, 0, 0, 0, -Math.SQRT1_2, Math.SQRT1_2, 0, 0, 0, 0];
  // One level on n points, periodic: row j < n/2 the lowpass at 2j, row n/2 + j the highpass.
  const level = (n) => Array.from({ length: n }, (_, r) => {
    const row = Array(n).fill(0);
    const [f, j] = r < n / 2 ? [lo, r] : [hi, r - n / 2];
    for (let k = 0; k < 10; k++) row[(((2 * j + k - 4) % n) + n) % n] += f[k];
    return row;
  });
  const inverse = (m) => {
    const n = m.length;
    const a = m.map((r, i) => [...r, ...Array.from({ length: n }, (_, j) => +(i === j))]);
    for (let c = 0; c < n; c++) {
      let p = c;
      for (let r = c + 1; r < n; r++) if (Math.abs(a[r][c]) > Math.abs(a[p][c])) p = r;
      [a[c], a[p]] = [a[p], a[c]];
      const d = a[c][c];
      a[c] = a[c].map((v) => v / d);
      for (let r = 0; r < n; r++) if (r !== c && a[r][c]) { const f = a[r][c]; a[r] = a[r].map((v, j) => v - f * a[c][j]); }
    }
    return a.map((r) => r.slice(n));
  };
  const L1 = level(8);
  // Levels 2 and 3 on the 4x4 corner X (row-major): X -> A X A^T with A = level(4), then the same with level(2) on its 2x2 corner.
  const apply = (x) => {
    let y = x.slice();
    for (const n of [4, 2]) {
      const A = level(n);
      const t = y.slice();
      for (let u = 0; u < n; u++) for (let v = 0; v < n; v++) {
        let sum = 0;
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) sum += A[u][i] * A[v][j] * y[i * 4 + j];
        t[u * 4 + v] = sum;
      }
      y = t;
    }
    return y;
  };
  // LL[i][j]: output coefficient i of input coefficient j.
  const cols = Array.from({ length: 16 }, (_, j) => apply(Array.from({ length: 16 }, (_, i) => +(i === j))));
  const LL = Array.from({ length: 16 }, (_, i) => cols.map((c) => c[i]));
  const syn = inverse(L1);
  return { fwd: L1, syn: L1.map((_, u) => syn.map((r) => r[u])), ll: LL, llInv: inverse(LL) };
})();
/** Sum of `terms` (expressions; zero terms left out by the caller), or a zero vector. */
const vsum = (terms) => (terms.length ? terms.reduce((e, t) => (e ? `(f32x4.add ${e} ${t})` : t), null) : '(v128.const f32x4 0 0 0 0)');
const f4 = (a) => `(v128.const f32x4 ${a.map((v) => Math.fround(v)).join(' ')})`;
const splat = (v) => f4([v, v, v, v]);

/**
 * Instructions applying the 16x16 matrix M to a 4x4 corner held as 4 vectors (row u: lanes v):
 * out[u * 4 + v] = sum_j M[u * 4 + v][j] in[j]. `load(u)` gives row u of the input, `store(u,
 * e)` the instruction that puts row u of the output; the input rows are read into $l0 to $l3
 * first, so the output may overwrite them. Zero columns are left out.
 */
function llFunc(M, load, store) {
  const out = [0, 1, 2, 3].map((u) => `(local.set $l${u} ${load(u)})`);
  for (let u = 0; u < 4; u++) {
    const t = [];
    for (let j = 0; j < 16; j++) {
      const c = [0, 1, 2, 3].map((v) => M[u * 4 + v][j]);
      if (c.every((x) => Math.abs(x) < 1e-12)) continue;
      t.push(`(f32x4.mul (f32x4.splat (f32x4.extract_lane ${j % 4} (local.get $l${j >> 2}))) ${f4(c)})`);
    }
    out.push(store(u, vsum(t)));
  }
  return out;
}

/**
 * dct8(planes, planeBytes, W, H, xs, nx, ys, ny, rows, out): the orthonormal 8x8 DCT of the
 * blocks at (xs[i], ys[j]) of 3 float planes W x H (planeBytes apart), written block after
 * block, the 3 planes' 64 coefficients (u * 8 + v) side by side:
 * out[(j * nx + i) * 192 + plane * 64 + k]. The 1-D DCT of every row segment (row y, columns
 * xs[i] to xs[i] + 7) is computed once into `rows` (3 H nx x 32 bytes), which the blocks
 * overlapping on that row share; each block then transforms its 8 segments down the columns.
 */
function dctFunc(name = 'dct8', C = DCT8, post = null) {
  const even = C === DCT8;
  // Rows: T[v] = sum_x X[x] C[v][x] (v across the two halves; inputs whose 4 factors are all 0 left out).
  const terms = [0, 1].map((h) => {
    const t = [];
    for (let x = 0; x < 8; x++) {
      const c = [0, 1, 2, 3].map((v) => C[4 * h + v][x]);
      if (c.every((v) => v === 0)) continue;
      const lane = `(f32x4.splat (f32x4.extract_lane ${x % 4} (local.get $x${x >> 2})))`;
      t.push(`(f32x4.mul ${lane} ${f4(c)})`);
    }
    return vsum(t);
  });
  // Columns: out[u] = sum_y C[u][y] T[y]. C[u][7 - y] = (-1)^u C[u][y], so the even u need only
  // the sums T[k] + T[7 - k] and the odd ones the differences (k < 4): half the products.
  const cols = [];
  for (let y = 0; y < 8; y++) cols.push(`(local.set $t${y}a (v128.load offset=0 (local.get $p))) (local.set $t${y}b (v128.load offset=16 (local.get $p))) (local.set $p (i32.add (local.get $p) (local.get $rowStride)))`);
  for (const h of ['a', 'b']) {
    if (even) for (let k = 0; k < 4; k++) cols.push(`(local.set $e${k} (f32x4.add (local.get $t${k}${h}) (local.get $t${7 - k}${h}))) (local.set $o${k} (f32x4.sub (local.get $t${k}${h}) (local.get $t${7 - k}${h})))`);
    for (let u = 0; u < 8; u++) {
      const t = even
        ? [0, 1, 2, 3].map((k) => `(f32x4.mul (local.get $${u % 2 ? 'o' : 'e'}${k}) ${splat(C[u][k])})`)
        : [...Array(8).keys()].filter((y) => C[u][y] !== 0).map((y) => `(f32x4.mul (local.get $t${y}${h}) ${splat(C[u][y])})`);
      cols.push(`(v128.store offset=${u * 32 + (h === 'b' ? 16 : 0)} (local.get $o) ${vsum(t)})`);
    }
  }
  // A transform on the 4x4 lowpass corner (coefficients u * 4 + v, the first 4 floats of rows 0 to 3) after the separable part.
  if (post) cols.push(...llFunc(post, (u) => `(v128.load offset=${u * 32} (local.get $o))`, (u, e) => `(v128.store offset=${u * 32} (local.get $o) ${e})`));
  const tl = [];
  for (let y = 0; y < 8; y++) tl.push(`(local $t${y}a v128) (local $t${y}b v128)`);
  for (let k = 0; k < 4; k++) tl.push(`(local $e${k} v128) (local $o${k} v128)`);
  if (post) tl.push('(local $l0 v128) (local $l1 v128) (local $l2 v128) (local $l3 v128)');
  return `  (func (export "${name}") (param $planes i32) (param $planeBytes i32) (param $W i32) (param $H i32) (param $xs i32) (param $nx i32) (param $ys i32) (param $ny i32) (param $rows i32) (param $out i32)
    (local $i i32) (local $j i32) (local $c i32) (local $y i32) (local $p i32) (local $o i32) (local $rowStride i32) (local $x0 v128) (local $x1 v128) ${tl.join(' ')}
    (local.set $rowStride (i32.shl (local.get $nx) (i32.const 5)))
    (local.set $o (local.get $rows))
    ${loop('rc', 'c', '(i32.const 0)', '(i32.const 3)', '(i32.const 1)', `      ${loop('ry', 'y', '(i32.const 0)', '(local.get $H)', '(i32.const 1)', `      ${loop('ri', 'i', '(i32.const 0)', '(local.get $nx)', '(i32.const 1)', `
          (local.set $p (i32.add (i32.add (local.get $planes) (i32.mul (local.get $c) (local.get $planeBytes)))
            (i32.shl (i32.add (i32.mul (local.get $y) (local.get $W)) (i32.load (i32.add (local.get $xs) (i32.shl (local.get $i) (i32.const 2))))) (i32.const 2))))
          (local.set $x0 (v128.load offset=0 (local.get $p))) (local.set $x1 (v128.load offset=16 (local.get $p)))
          (v128.store offset=0 (local.get $o) ${terms[0]})
          (v128.store offset=16 (local.get $o) ${terms[1]})
          (local.set $o (i32.add (local.get $o) (i32.const 32)))`)}`)}`)}
    (local.set $o (local.get $out))
    ${loop('dj', 'j', '(i32.const 0)', '(local.get $ny)', '(i32.const 1)', `      ${loop('di', 'i', '(i32.const 0)', '(local.get $nx)', '(i32.const 1)', `      ${loop('dc', 'c', '(i32.const 0)', '(i32.const 3)', '(i32.const 1)', `
          (local.set $p (i32.add (local.get $rows) (i32.shl (i32.add (i32.mul (i32.add (i32.mul (local.get $c) (local.get $H)) (i32.load (i32.add (local.get $ys) (i32.shl (local.get $j) (i32.const 2))))) (local.get $nx)) (local.get $i)) (i32.const 5))))
${cols.map((l) => '          ' + l).join('\n')}
          (local.set $o (i32.add (local.get $o) (i32.const 256)))`)}`)}`)})
`;
}

/**
 * idct8add(coef, wsum, W, xs, nx, ys, ny, num, den, planeBytes, win): the inverse of dct8 for
 * every block's 3 planes (laid out as dct8 writes them), times the 8x8 window of floats at
 * win, added to the float planes at num, and the block's weight per plane
 * (wsum[block * 3 + plane]) times the window added to the planes at den.
 */
function idctFunc(name = 'idct8add', C = DCT8, pre = null) {
  const even = C === DCT8;
  const body = [];
  // The inverse of the corner's transform first, into $n0 to $n3, which the rows 0 to 3 then read for their first half.
  if (pre) body.push(...llFunc(pre, (u) => `(v128.load offset=${u * 32} (local.get $a))`, (u, e) => `(local.set $n${u} ${e})`));
  // Rows: T[u] = sum_v A[u][v] C[v][x] (x across the two halves).
  for (let u = 0; u < 8; u++) {
    body.push(`(local.set $x0 ${pre && u < 4 ? `(local.get $n${u})` : `(v128.load offset=${u * 32} (local.get $a))`}) (local.set $x1 (v128.load offset=${u * 32 + 16} (local.get $a)))`);
    const terms = [0, 1].map((h) => {
      const t = [];
      for (let v = 0; v < 8; v++) {
        const c = [0, 1, 2, 3].map((x) => C[v][4 * h + x]);
        if (c.every((x) => x === 0)) continue;
        const lane = `(f32x4.splat (f32x4.extract_lane ${v % 4} (local.get $x${v >> 2})))`;
        t.push(`(f32x4.mul ${lane} ${f4(c)})`);
      }
      return vsum(t);
    });
    body.push(`(local.set $t${u}a ${terms[0]}) (local.set $t${u}b ${terms[1]})`);
  }
  // Columns: pixel row y = sum_u C[u][y] T[u], added at its place; the weight added beside.
  // For the DCT, with E = the sum over even u and O over odd u (y < 4), row y is E + O and row
  // 7 - y is E - O; another matrix sums its nonzero terms.
  for (let y = 0; y < (even ? 4 : 8); y++)
    for (const h of ['a', 'b']) {
      const part = (from, step) => vsum([...Array(8).keys()].filter((u) => u >= from && (u - from) % step === 0 && C[u][y] !== 0).map((u) => `(f32x4.mul (local.get $t${u}${h}) ${splat(C[u][y])})`));
      if (!even) {
        body.push(`(local.set $r${y}${h} ${part(0, 1)})`);
        continue;
      }
      body.push(`(local.set $ev ${part(0, 2)}) (local.set $od ${part(1, 2)})`);
      body.push(`(local.set $r${y}${h} (f32x4.add (local.get $ev) (local.get $od))) (local.set $r${7 - y}${h} (f32x4.sub (local.get $ev) (local.get $od)))`);
    }
  for (let y = 0; y < 8; y++) {
    for (const h of ['a', 'b']) {
      const e = `(local.get $r${y}${h})`;
      const off = h === 'b' ? 16 : 0;
      const win = `(v128.load offset=${y * 32 + off} (local.get $win))`;
      body.push(`(v128.store offset=${off} (local.get $p) (f32x4.add (v128.load offset=${off} (local.get $p)) (f32x4.mul ${win} ${e})))`);
      body.push(`(v128.store offset=${off} (local.get $q) (f32x4.add (v128.load offset=${off} (local.get $q)) (f32x4.mul ${win} (local.get $vw))))`);
    }
    body.push(`(local.set $p (i32.add (local.get $p) (local.get $rowBytes))) (local.set $q (i32.add (local.get $q) (local.get $rowBytes)))`);
  }
  const tl = [];
  for (let y = 0; y < 8; y++) tl.push(`(local $t${y}a v128) (local $t${y}b v128)`);
  for (let y = 0; y < 8; y++) tl.push(`(local $r${y}a v128) (local $r${y}b v128)`);
  tl.push('(local $ev v128) (local $od v128)');
  if (pre) tl.push('(local $l0 v128) (local $l1 v128) (local $l2 v128) (local $l3 v128) (local $n0 v128) (local $n1 v128) (local $n2 v128) (local $n3 v128)');
  return `  (func (export "${name}") (param $coef i32) (param $wsum i32) (param $W i32) (param $xs i32) (param $nx i32) (param $ys i32) (param $ny i32) (param $num i32) (param $den i32) (param $planeBytes i32) (param $win i32)
    (local $i i32) (local $j i32) (local $c i32) (local $p i32) (local $q i32) (local $a i32) (local $w i32) (local $off i32) (local $rowBytes i32) (local $vw v128) (local $x0 v128) (local $x1 v128) ${tl.join(' ')}
    (local.set $rowBytes (i32.shl (local.get $W) (i32.const 2)))
    (local.set $a (local.get $coef))
    (local.set $w (local.get $wsum))
    ${loop('ij', 'j', '(i32.const 0)', '(local.get $ny)', '(i32.const 1)', `      ${loop('ii', 'i', '(i32.const 0)', '(local.get $nx)', '(i32.const 1)', `      ${loop('ic', 'c', '(i32.const 0)', '(i32.const 3)', '(i32.const 1)', `
          (local.set $off (i32.add (i32.mul (local.get $c) (local.get $planeBytes))
            (i32.shl (i32.add (i32.mul (i32.load (i32.add (local.get $ys) (i32.shl (local.get $j) (i32.const 2)))) (local.get $W)) (i32.load (i32.add (local.get $xs) (i32.shl (local.get $i) (i32.const 2))))) (i32.const 2))))
          (local.set $p (i32.add (local.get $num) (local.get $off)))
          (local.set $q (i32.add (local.get $den) (local.get $off)))
          (local.set $vw (f32x4.splat (f32.load (local.get $w))))
${body.map((l) => '          ' + l).join('\n')}
          (local.set $a (i32.add (local.get $a) (i32.const 256)))
          (local.set $w (i32.add (local.get $w) (i32.const 4)))`)}`)}`)})
`;
}

/**
 * The batched product C[i] = A[i] @ B[i] (+ the bias row, with `bias`) as a function exported
 * as `name`; `o` as tile() takes it.
 */
function bmmFunc(name, o = {}) {
  const accs = [];
  for (let r = 0; r < 4; r++) for (let v = 0; v < 2; v++) accs.push(`(local $acc${r}_${v} v128)`);
  return `  (func (export "${name}") (param $a i32) (param $b i32) ${o.bias ? '(param $bias i32) (param $hasBias i32) ' : ''}(param $c i32) (param $batch i32) (param $M i32) (param $K i32) (param $N i32)
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
${rowBlock(4, o)}
        (local.set $arow (i32.add (local.get $arow) (i32.shl (local.get $ka) (i32.const 2))))
        (local.set $crow (i32.add (local.get $crow) (i32.shl (local.get $nb) (i32.const 2))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $l4)))
      (block $d1r (loop $l1r
        (br_if $d1r (i32.ge_s (local.get $i) (local.get $M)))
${rowBlock(1, o)}
        (local.set $arow (i32.add (local.get $arow) (local.get $ka)))
        (local.set $crow (i32.add (local.get $crow) (local.get $nb)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l1r)))
      (local.set $a (i32.add (local.get $a) (i32.mul (local.get $M) (local.get $ka))))
      (local.set $b (i32.add (local.get $b) (i32.mul (local.get $K) (local.get $nb))))
      (local.set $c (i32.add (local.get $c) (i32.mul (local.get $M) (local.get $nb))))
      (local.set $batch (i32.sub (local.get $batch) (i32.const 1)))
      (br $bl))))`;
}

/**
 * The second module, for engines with relaxed SIMD (Node 20 behind a V8 flag, which
 * src/runtime/wasm-kernels.ts sets): bmmb(a, b, bias, hasBias, c, batch, M, K, N), the batched
 * product plus an optional bias row, by fused multiply-adds.
 */
function relaxedWat() {
  return `;; Generated by scripts/gen-wasm-kernels.js; do not edit.
;; bmmb(a, b, bias, hasBias, c, batch, M, K, N): C[i] = A[i] @ B[i] (+ bias[0..N) if hasBias), float32, row-major, byte offsets, by f32x4.relaxed_madd.
(module
  (import "env" "memory" (memory 1))
${bmmFunc('bmmb', { fma: true, bias: true })})
`;
}

function wat() {
  return `;; Generated by scripts/gen-wasm-kernels.js; do not edit.
;; bmm(a, b, c, batch, M, K, N): C[i] = A[i] @ B[i], float32, row-major, byte offsets.
;; gelu(in, out, n): out[i] = 0.5 in[i] (1 + erf(in[i] / sqrt 2)), n floats.
(module
  (import "env" "memory" (memory 1))
${bmmFunc('bmm')}
${geluFunc()}
${collabFunc()}
${collab1Func()}
${GROUP_SIZES.map(groupFunc).join('\n')}
${dctFunc()}
${idctFunc()}
${dctFunc('haar8', HAAR8)}
${idctFunc('ihaar8add', HAAR8)}
${dctFunc('bior8', BIOR.fwd, BIOR.ll)}
${idctFunc('ibior8add', BIOR.syn, BIOR.llInv)})
`;
}

async function build() {
  const wabt = await require('wabt')();
  const compile = (file, text) => {
    const mod = wabt.parseWat(file, text, { simd: true, relaxed_simd: true });
    mod.validate();
    const { buffer } = mod.toBinary({});
    mod.destroy();
    return buffer;
  };
  const text = wat();
  const relaxed = relaxedWat();
  const main = compile('wasm-kernels.wat', text);
  const rel = compile('wasm-kernels-relaxed.wat', relaxed);
  const ts = `// Generated by scripts/gen-wasm-kernels.js from wasm-kernels.wat and wasm-kernels-relaxed.wat; do not edit.
/** The compiled WebAssembly module (${main.length} bytes), base64. */
export const WASM_KERNELS_BASE64 =
  '${Buffer.from(main).toString('base64')}';
/** The relaxed-SIMD module (${rel.length} bytes), base64. */
export const WASM_RELAXED_BASE64 =
  '${Buffer.from(rel).toString('base64')}';
`;
  return { text, relaxed, ts };
}

module.exports = { build };

if (require.main === module) {
  build()
    .then(({ text, relaxed, ts }) => {
      const dir = path.join(__dirname, '..', 'src', 'runtime');
      const files = { 'wasm-kernels.wat': text, 'wasm-kernels-relaxed.wat': relaxed, 'wasm-kernels-binary.ts': ts };
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
