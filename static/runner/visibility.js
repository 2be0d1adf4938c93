// What happens to the window during a trial: tab switches (the page hidden), window blurs and
// full-screen exits, counted per trial. `exited` resolves at the first full-screen exit.
export function watchTrial() {
  const counts = { hidden: 0, blur: 0, fullscreen_exits: 0 };
  let onExit;
  const exited = new Promise((resolve) => (onExit = resolve));
  const onVisibility = () => {
    if (document.visibilityState === "hidden") counts.hidden += 1;
  };
  const onBlur = () => (counts.blur += 1);
  const onFullscreen = () => {
    if (document.fullscreenElement) return;
    counts.fullscreen_exits += 1;
    onExit();
  };
  document.addEventListener("visibilitychange", onVisibility);
  window.addEventListener("blur", onBlur);
  document.addEventListener("fullscreenchange", onFullscreen);
  return {
    counts,
    exited,
    stop() {
      document.removeEventListener("visibilitychange", onVisibility);
      window.removeEventListener("blur", onBlur);
      document.removeEventListener("fullscreenchange", onFullscreen);
    },
  };
}
