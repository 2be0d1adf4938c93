// Masks shown after a timed exposure, one canvas per face: pixel noise, or the face itself cut
// into tiles and shuffled (same mean luminance and spatial frequencies, no face).
const NOISE_SIZE = 128;
const TILES = 8;

function noise(canvas) {
  canvas.width = canvas.height = NOISE_SIZE;
  const context = canvas.getContext("2d");
  const pixels = context.createImageData(NOISE_SIZE, NOISE_SIZE);
  for (let i = 0; i < pixels.data.length; i += 4) {
    pixels.data[i] = pixels.data[i + 1] = pixels.data[i + 2] = Math.floor(Math.random() * 256);
    pixels.data[i + 3] = 255;
  }
  context.putImageData(pixels, 0, 0);
}

function scrambled(canvas, image) {
  const width = (canvas.width = image.naturalWidth);
  const height = (canvas.height = image.naturalHeight);
  const [w, h] = [width / TILES, height / TILES];
  const tiles = [...Array(TILES * TILES).keys()];
  for (let i = tiles.length - 1; i > 0; i -= 1) {
    const j = Math.floor(Math.random() * (i + 1));
    [tiles[i], tiles[j]] = [tiles[j], tiles[i]];
  }
  const context = canvas.getContext("2d");
  tiles.forEach((from, to) => {
    const [sx, sy] = [(from % TILES) * w, Math.floor(from / TILES) * h];
    const [dx, dy] = [(to % TILES) * w, Math.floor(to / TILES) * h];
    context.drawImage(image, sx, sy, w, h, dx, dy, w, h);
  });
}

// Add a hidden mask of `kind` ("noise" or "scrambled") over each face image in `faces`;
// `sources` are the decoded images, in the same order.
export function addMasks(faces, kind, sources) {
  return [...faces.querySelectorAll(".face img")].map((image, i) => {
    const canvas = Object.assign(document.createElement("canvas"), { className: "mask", hidden: true });
    if (kind === "noise") noise(canvas);
    else scrambled(canvas, sources[i]);
    image.after(canvas);
    return canvas;
  });
}
