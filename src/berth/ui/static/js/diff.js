// A small line diff (longest common subsequence), enough for app definitions of a few
// hundred lines: O(n·m) time and memory, which is fine at that size and simple to trust.

/**
 * Lines of `a` and `b` as [op, text] pairs: " " kept, "-" only in a, "+" only in b.
 *
 *   diffLines("x\ny", "x\nz")  →  [[" ", "x"], ["-", "y"], ["+", "z"]]
 */
export function diffLines(a, b) {
  const x = a.split("\n");
  const y = b.split("\n");
  // Strip the common head and tail first: versions usually differ in a few lines.
  let start = 0;
  while (start < x.length && start < y.length && x[start] === y[start]) start++;
  let endX = x.length;
  let endY = y.length;
  while (endX > start && endY > start && x[endX - 1] === y[endY - 1]) {
    endX--;
    endY--;
  }
  const xs = x.slice(start, endX);
  const ys = y.slice(start, endY);
  const n = xs.length;
  const m = ys.length;
  // lcs[i][j] = length of the LCS of xs[i:] and ys[j:].
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = xs[i] === ys[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out = x.slice(0, start).map((t) => [" ", t]);
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && xs[i] === ys[j]) {
      out.push([" ", xs[i]]);
      i++;
      j++;
    } else if (i < n && (j === m || lcs[i + 1][j] >= lcs[i][j + 1])) {
      out.push(["-", xs[i]]);
      i++;
    } else {
      out.push(["+", ys[j]]);
      j++;
    }
  }
  for (const t of x.slice(endX)) out.push([" ", t]);
  return out;
}

/** JSON with sorted keys, so two versions line up field by field. */
export function stableJson(value) {
  return JSON.stringify(sortKeys(value), null, 2);
}

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys(value[k])]),
    );
  }
  return value;
}
