// When each press began, so that a trial can accept only fresh ones: a key counts from its first
// keydown until its keyup (auto-repeat and keydowns without a keyup are the same press), a click
// from the pointerdown that started it.
const keysDown = new Map(); // key code -> time of the keydown that began the press
let lastPointerDown = -Infinity;

const keyName = (event) => event.code || event.key;

document.addEventListener(
  "keydown",
  (event) => {
    // A repeat of a key held since before this page saw it began "long ago".
    if (!keysDown.has(keyName(event))) keysDown.set(keyName(event), event.repeat ? -Infinity : event.timeStamp);
  },
  true,
);
document.addEventListener("keyup", (event) => keysDown.delete(keyName(event)), true);
window.addEventListener("blur", () => keysDown.clear());
document.addEventListener("pointerdown", (event) => (lastPointerDown = event.timeStamp), true);

// When the press behind this keydown began (same clock as performance.now()).
export function keyPressedAt(event) {
  return keysDown.get(keyName(event)) ?? event.timeStamp;
}

// When the press behind this click began: its pointerdown, or the click itself when no pointer
// made it (a keyboard or assistive technology activating a button).
export function clickPressedAt(event) {
  return event.detail > 0 ? lastPointerDown : event.timeStamp;
}
