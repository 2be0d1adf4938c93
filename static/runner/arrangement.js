// A multi-arrangement trial (Kriegeskorte & Mur 2012): the trial's faces wait in a tray beside a
// circular arena; the participant drags each into the arena (mouse, pen or touch: pointer
// events) so that similar faces lie close together. Keyboard: Tab to a face, Enter or Space
// selects it, the arrow keys move it (Shift: finer), Escape lets it go. Positions are in arena
// radii from the centre (x right, y down). Every placement is a move [ms, id, x, y]; the state
// is kept on this device after each move, so a reload resumes the trial where it was.
import { loadImages } from "./preload.js";

const KEY_STEP = 0.05;
const FINE_STEP = 0.01;
const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

// The point of the unit disc nearest to (x, y).
function insideArena(x, y) {
  const length = Math.hypot(x, y);
  return length > 1 ? [x / length, y / length] : [x, y];
}

function savedState(storageKey, trial) {
  const saved = JSON.parse(localStorage.getItem(storageKey) || "null");
  const ids = trial.items.map(String).sort().join(",");
  if (!saved || saved.trial !== trial.index || saved.ids !== ids) return { positions: {}, moves: [], elapsed: 0 };
  return saved;
}

function build(view, trial, images) {
  const faces = view.querySelector("[data-faces]");
  faces.replaceChildren();
  faces.dataset.type = trial.type;
  faces.dataset.trial = String(trial.index);
  const board = Object.assign(document.createElement("div"), { className: "arrangement" });
  const arena = Object.assign(document.createElement("div"), { className: "arena" });
  arena.dataset.arena = "";
  const tray = Object.assign(document.createElement("div"), { className: "tray" });
  tray.dataset.tray = "";
  const done = Object.assign(document.createElement("button"), { type: "button", className: "primary", textContent: "Done" });
  done.dataset.arrangementDone = "";
  const elements = new Map();
  trial.items.forEach((id, i) => {
    const face = images[i].cloneNode();
    face.className = "arrange-face";
    face.draggable = false;
    face.tabIndex = 0;
    face.dataset.id = String(id);
    face.setAttribute("role", "button");
    face.setAttribute("aria-label", `Face ${i + 1}`);
    face.setAttribute("aria-pressed", "false");
    tray.append(face);
    elements.set(String(id), face);
  });
  board.append(arena, tray);
  faces.append(board, done);
  return { arena, tray, done, elements };
}

// Resolves with {arrangement: {positions, moves}, rt_ms, timing}, or null when `interrupt`
// resolves first (the state stays saved for the next attempt).
export async function runArrangement(trial, { view, imageUrls, storageKey, refreshMs, interrupt }) {
  view.querySelector("[data-prompt]").textContent =
    "Drag the faces into the circle: similar faces close together, different faces far apart.";
  const faces = view.querySelector("[data-faces]");
  faces.style.visibility = "hidden";
  const images = await loadImages(trial.items.map((id) => imageUrls[String(id)]));
  const { arena, tray, done, elements } = build(view, trial, images);
  const state = savedState(storageKey, trial);
  const onset = performance.now() - state.elapsed;
  const now = () => Math.round((performance.now() - onset) * 10) / 10;
  let selected = null;

  const place = (face) => {
    const position = state.positions[face.dataset.id];
    if (!position) {
      tray.append(face);
      face.classList.remove("placed");
      face.style.left = face.style.top = "";
      return;
    }
    if (face.parentElement !== arena) arena.append(face);
    face.classList.add("placed");
    face.style.left = `${50 + 50 * position[0]}%`;
    face.style.top = `${50 + 50 * position[1]}%`;
  };
  const update = () => {
    done.disabled = Object.keys(state.positions).length < elements.size;
    localStorage.setItem(storageKey, JSON.stringify({ ...state, trial: trial.index, ids: trial.items.map(String).sort().join(","), elapsed: now() }));
  };
  const move = (face, x, y) => {
    const [px, py] = insideArena(x, y).map((v) => Math.round(v * 1e4) / 1e4);
    state.positions[face.dataset.id] = [px, py];
    state.moves.push([now(), Number(face.dataset.id), px, py]);
    place(face);
    update();
  };
  const select = (face) => {
    if (selected) selected.setAttribute("aria-pressed", "false");
    selected = face;
    if (face) face.setAttribute("aria-pressed", "true");
  };
  // Arena coordinates of a point on the page.
  const toArena = (clientX, clientY) => {
    const box = arena.getBoundingClientRect();
    const radius = box.width / 2;
    return [(clientX - box.left - radius) / radius, (clientY - box.top - radius) / radius];
  };

  elements.forEach((face) => place(face));
  update();
  faces.style.visibility = "visible";
  faces.dataset.accepting = "true";

  const onPointerDown = (event) => {
    const face = event.target.closest(".arrange-face");
    if (!face || !event.isPrimary) return;
    event.preventDefault();
    face.setPointerCapture(event.pointerId);
    // Where the face was grabbed, from its centre (measured before it leaves its place).
    const box = face.getBoundingClientRect();
    const grab = [event.clientX - box.left - box.width / 2, event.clientY - box.top - box.height / 2];
    select(face);
    face.classList.add("dragging");
    const listening = new AbortController(); // this drag's listeners
    const options = { signal: listening.signal };
    const follow = (e) => {
      face.style.position = "fixed";
      face.style.left = `${e.clientX - grab[0]}px`;
      face.style.top = `${e.clientY - grab[1]}px`;
    };
    const release = () => {
      listening.abort();
      face.classList.remove("dragging");
      face.style.position = "";
    };
    const drop = (e) => {
      release();
      const [x, y] = toArena(e.clientX - grab[0], e.clientY - grab[1]);
      // Inside the arena: placed there; outside: a placed face stays at the rim, a face
      // from the tray goes back to it.
      if (Math.hypot(x, y) <= 1 || state.positions[face.dataset.id]) move(face, x, y);
      else place(face);
    };
    face.addEventListener("pointermove", follow, options);
    face.addEventListener("pointerup", drop, options);
    face.addEventListener(
      "pointercancel",
      () => {
        release();
        place(face);
      },
      options,
    );
  };
  const onKey = (event) => {
    const face = event.target.closest?.(".arrange-face");
    if (face && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      select(selected === face ? null : face);
    } else if (selected && event.key === "Escape") {
      select(null);
    } else if (selected && ARROWS[event.key]) {
      event.preventDefault();
      const step = event.shiftKey ? FINE_STEP : KEY_STEP;
      const [x, y] = state.positions[selected.dataset.id] || [0, 0];
      const [dx, dy] = ARROWS[event.key];
      move(selected, x + dx * step, y + dy * step);
      selected.focus();
    }
  };

  return new Promise((resolve) => {
    let finished = false;
    const stop = () => {
      finished = true;
      delete faces.dataset.accepting;
      view.removeEventListener("pointerdown", onPointerDown);
      document.removeEventListener("keydown", onKey);
    };
    done.addEventListener("click", () => {
      if (done.disabled || finished) return;
      const rt = Math.max(now(), 0.001);
      stop();
      faces.style.visibility = "hidden";
      faces.replaceChildren();
      localStorage.removeItem(storageKey);
      resolve({
        arrangement: { positions: state.positions, moves: state.moves },
        rt_ms: rt,
        timing: { refresh_ms: refreshMs, stimulus_onset_ms: 0, stimulus_offset_ms: rt, too_slow: false },
      });
    });
    interrupt.then(() => {
      if (finished) return;
      stop();
      faces.style.visibility = "hidden";
      resolve(null);
    });
    view.addEventListener("pointerdown", onPointerDown);
    document.addEventListener("keydown", onKey);
  });
}
