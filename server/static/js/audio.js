// The page's one WebAudio context, made on first use (chimes and alarms are tones, no sound files).
// Browsers may refuse audio until the page has been clicked or a key pressed; a blocked or missing
// AudioContext is null here and the caller stays silent, quietly.

let context = null;
let failed = false;

/** The page's AudioContext, or null where there is none. */
export function audioContext() {
  if (context || failed) return context;
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) {
    failed = true;
    return null;
  }
  try {
    context = new Context();
  } catch (error) {
    failed = true;
  }
  return context;
}
