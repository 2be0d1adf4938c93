// Bubbles trials: the face seen through Gaussian apertures, and the staircase on their number.
// The mask is the one of analysis/bubbles/masks.py (one written specification, two
// implementations, a browser test that they give the same pixels):
// - positions from mulberry32(seed): draw 2i is aperture i's row, floor(u * height); draw
//   2i + 1 its column, floor(u * width);
// - each aperture is exp(-d²/2σ²) along rows times the same along columns, each factor zero
//   beyond ceil(3σ) pixels from the centre; apertures add and the sum is clipped at 1.
// Quantisation: the canvas holds the face at its natural size with alpha = round(255 * v), over
// a mid-grey background, so what shows is v·face + (1 − v)·grey to 1/255.
// The staircase is analysis/bubbles/staircase.py's WeightedUpDown: level on a log scale, down
// by `step` after a correct answer, up by step·target/(1 − target) after an error, clipped to
// [log minimum, log maximum]; the count shown is round(exp(level)) clipped to [minimum, maximum].

// A match-to-reference trial: the reference shown in full, two candidates through the apertures.
export function isMatch(trial) {
  return trial.type === "bubbles" && trial.items.length === 3;
}

export function mulberry32(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// The profile of one aperture along one axis: values at offsets -(r+1) .. r+1, zero at the ends.
function profile(sigma) {
  const radius = Math.ceil(3 * sigma);
  const values = new Float64Array(2 * radius + 3);
  for (let d = -radius; d <= radius; d += 1) values[d + radius + 1] = Math.exp(-(d * d) / (2 * sigma * sigma));
  return { radius, values };
}

// The (height × width) visibility in [0, 1], row-major.
export function bubblesMask(seed, count, sigma, height, width) {
  const random = mulberry32(seed);
  const { radius, values } = profile(sigma);
  const mask = new Float64Array(height * width);
  for (let i = 0; i < count; i += 1) {
    const row = Math.floor(random() * height);
    const column = Math.floor(random() * width);
    for (let y = Math.max(0, row - radius); y <= Math.min(height - 1, row + radius); y += 1) {
      const along = values[y - row + radius + 1];
      for (let x = Math.max(0, column - radius); x <= Math.min(width - 1, column + radius); x += 1) {
        mask[y * width + x] += along * values[x - column + radius + 1];
      }
    }
  }
  for (let k = 0; k < mask.length; k += 1) mask[k] = Math.min(mask[k], 1);
  return mask;
}

// A canvas showing `image` (decoded) through the apertures of (seed, count).
export function bubblesCanvas(image, { seed, count, sigma }) {
  const canvas = document.createElement("canvas");
  const width = image.naturalWidth;
  const height = image.naturalHeight;
  canvas.width = width;
  canvas.height = height;
  canvas.className = "bubbles";
  canvas.dataset.seed = String(seed);
  canvas.dataset.count = String(count);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(image, 0, 0);
  const pixels = context.getImageData(0, 0, width, height);
  const mask = bubblesMask(seed, count, sigma, height, width);
  for (let k = 0; k < mask.length; k += 1) pixels.data[4 * k + 3] = Math.round(255 * mask[k]);
  context.putImageData(pixels, 0, 0);
  return canvas;
}

// The participant's staircase. Outcomes arrive when the server acknowledges an answer (it
// alone knows which answer is right); each trial's outcome counts once, in the order of the
// acknowledgements, so a trial shown before the previous one was acknowledged uses the level
// as it stood. A resumed session replays the outcomes of its stored answers (from the plan).
export class Staircase {
  constructor({ start, step, target, minimum, max_count: maximum }, trials) {
    Object.assign(this, { level: Math.log(start), step, target, minimum, maximum });
    this.counted = new Set();
    for (const trial of trials) if (trial.type === "bubbles" && trial.answered) this.record(trial.index, trial.correct);
  }

  get count() {
    return Math.min(this.maximum, Math.max(this.minimum, Math.round(Math.exp(this.level))));
  }

  record(trialIndex, correct) {
    if (this.counted.has(trialIndex) || typeof correct !== "boolean") return;
    this.counted.add(trialIndex);
    this.level += correct ? -this.step : (this.step * this.target) / (1 - this.target);
    this.level = Math.min(Math.log(this.maximum), Math.max(Math.log(this.minimum), this.level));
  }
}
