/**
 * A generated row's text while it grows: decoding (skipping special tokens), stop-string matching with
 * vLLM semantics (the text is cut before the earliest stop string), and stream deltas that hold back a
 * trailing incomplete UTF-8 character (U+FFFD) and any tail that could still become a stop string, so the
 * concatenated deltas always equal the final text.
 */
export class RowText {
  private text = '';
  private emitted = 0;
  private readonly maxStop: number;

  constructor(
    private readonly decode: (ids: number[]) => string,
    private readonly stop: readonly string[],
  ) {
    this.maxStop = Math.max(0, ...stop.map((s) => s.length));
  }

  /** Re-decodes after a new (non-EOS) token; returns true when a stop string now ends the row. */
  update(generated: number[], stopsActive: boolean): boolean {
    this.text = this.decode(generated);
    if (!stopsActive || this.maxStop === 0) return false;
    let cut = -1;
    // Only the tail can hold a new match: everything before it was checked on earlier steps.
    const from = Math.max(0, this.emitted - this.maxStop);
    for (const s of this.stop) {
      const at = this.text.indexOf(s, from);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut < 0) return false;
    this.text = this.text.slice(0, cut);
    return true;
  }

  /** The next stream delta; `final` releases everything that is left. */
  take(final: boolean): string {
    let upto = this.text.length;
    if (!final) {
      upto = this.text.replace(/\uFFFD+$/, '').length;
      if (this.maxStop > 1) upto = Math.min(upto, this.text.length - (this.maxStop - 1));
    }
    if (upto <= this.emitted) return '';
    const delta = this.text.slice(this.emitted, upto);
    this.emitted = upto;
    return delta;
  }

  get value(): string { return this.text; }
}
