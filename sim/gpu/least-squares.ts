// Weighted straight-line least squares, the only fitting the GPU models need.

export interface Point {
  x: number;
  y: number;
}

export interface Line {
  intercept: number;
  slope: number;
}

/**
 * Fits y ≈ intercept + slope·x. `relative` weights each point by 1/y², i.e. minimises the sum of squared
 * *relative* residuals — what matters when every point must be matched within a percentage.
 */
export function fitLine(points: readonly Point[], weighting: 'absolute' | 'relative', what: string): Line {
  if (points.length < 2) throw new Error(`${what}: need at least 2 points to fit a line, got ${points.length}`);
  let s = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const { x, y } of points) {
    if (!Number.isFinite(x) || !Number.isFinite(y)) throw new Error(`${what}: non-finite point (${x}, ${y})`);
    if (weighting === 'relative' && y === 0) throw new Error(`${what}: relative weighting needs y ≠ 0 at x = ${x}`);
    const w = weighting === 'relative' ? 1 / (y * y) : 1;
    s += w; sx += w * x; sy += w * y; sxx += w * x * x; sxy += w * x * y;
  }
  const det = s * sxx - sx * sx;
  // Relative to the scale of the sums, a vanishing determinant means all x are (nearly) equal.
  if (Math.abs(det) <= 1e-12 * s * sxx) throw new Error(`${what}: all points share one x, a line is undetermined`);
  const slope = (s * sxy - sx * sy) / det;
  return { intercept: (sy - slope * sx) / s, slope };
}
