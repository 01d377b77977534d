// The shared words: ticket statuses, counter states, pause reasons, outcomes, service kinds, alert
// severities and rules. They are defined once, in server/vocabulary.py, and reach the screens as
// the `vocabulary` of GET /api/v1/branch: {list: [{code, label, short, phrase}], ...}, every text
// as {zh, en}. Screens keep only their own sentences in their messages.js and ask here for words.

/**
 * Look-ups over the vocabulary that `source()` returns (read on every call, so the words follow
 * the branch as soon as it has loaded). `pick` chooses a {zh, en} text's language (i18n.pick).
 * A code the vocabulary does not know, or any code before it has arrived, reads as the code itself.
 */
export function createWords(source, pick) {
  const termsOf = (list) => {
    const terms = source()?.[list];
    return Array.isArray(terms) ? terms : [];
  };
  const termOf = (list, code) => termsOf(list).find((term) => term.code === code);
  const form = (name) => (list, code) => {
    const term = termOf(list, code);
    return term ? pick(term[name]) : String(code ?? "");
  };
  return {
    /** The word standing alone: a badge, a menu entry, a heading. */
    label: form("label"),
    /** The word where room is tight (table columns). */
    short: form("short"),
    /** The word inside a sentence ("paused (cash replenishment)"). */
    phrase: form("phrase"),
    /** The terms of a list, in the order screens show them. */
    terms: termsOf,
    has: (list, code) => Boolean(termOf(list, code)),
  };
}
