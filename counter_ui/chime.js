// The console's chime for an instruction from the lobby manager: two bright tones, twice. Browsers
// may refuse audio until the page has been clicked or a key pressed; the console unlocks it on the
// first one. A blocked or missing AudioContext stays silent, quietly: the banner is the message,
// the chime only draws the eye to it.

import { playTones } from "/static/js/audio.js";

/** Play the chime. Returns whether a sound was scheduled. */
export function playChime() {
  return playTones([[0, 988], [0.18, 1319], [0.5, 988], [0.68, 1319]], { peak: 0.4, length: 0.3 });
}
