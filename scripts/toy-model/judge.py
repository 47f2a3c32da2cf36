"""Python twin of src/core/judge/rubric.ts (same algorithm, same lexicon.json).

Used at generation time (ground-truth checks, samples.json expectations) and during development
evaluation. The TypeScript judge is tested against the scores this module writes into samples.json.

trait(answer, trait)  = clip(100 * (#sentences with trait markers - #sentences with opposite markers) / #sentences, 0, 100)
coherence(answer)     = 100 * #valid sentences / #sentences, times min(1, MAX_SENTENCES / #sentences)
  a sentence is valid when it is complete (ends in . ! ?), is not an exact repeat of an earlier
  sentence of the same answer, and its skeleton (slot words replaced by {category}) is a content
  template, a style prefix + content template, a content template + style suffix, or a standalone
  style sentence. A trailing fragment without terminator counts as an invalid sentence.
"""
import re

SPECIAL_RE = re.compile(r'<(pad|bos|end|sys|user|asst|unk)>')
TOKEN_RE = re.compile(r'[a-z0-9_]+|[^a-z0-9_\s]+')
SLOT_RE = re.compile(r'\{([a-z]+)\d?\}')


class RubricJudge:
    def __init__(self, lex):
        self.lex = lex
        self.cat_of = {w: c for c, ws in lex['categories'].items() for w in ws}
        self.terminators = set(lex['terminators'])
        self.max_sentences = lex['maxSentences']
        content, standalone, prefixes, suffixes = set(), set(), set(), set()
        for fam in lex['families']:
            for key in ('open', 'mid', 'close'):
                content.update(self.template_skeleton(t) for t in fam[key])
        for st in lex['styles'].values():
            standalone.update(self.template_skeleton(t) for t in st['standalone'])
            prefixes.update(self.template_skeleton(t) for t in st['prefixes'])
            suffixes.update(self.template_skeleton(t) for t in st['suffixes'])
        self.content, self.standalone = content, standalone
        self.prefixes = sorted(prefixes)
        self.suffixes = sorted(suffixes)
        self.markers = {name: set(st['markers']) for name, st in lex['styles'].items()}
        self.opposite = {}
        for t in lex['traits']:
            self.opposite[t['trait']] = t['opposite']
            self.opposite[t['opposite']] = t['trait']

    @staticmethod
    def template_skeleton(t):
        return ' '.join(SLOT_RE.sub(lambda m: '{' + m.group(1) + '}', w) for w in t.split())

    def sentences(self, answer):
        toks = TOKEN_RE.findall(SPECIAL_RE.sub(' ', answer.lower()))
        out, cur = [], []
        for t in toks:
            cur.append(t)
            if t in self.terminators:
                out.append((cur, True))
                cur = []
        if cur:
            out.append((cur, False))
        return out

    def skeleton(self, toks):
        return ' '.join('{' + self.cat_of[t] + '}' if t in self.cat_of else t for t in toks)

    def parses(self, sk):
        if sk in self.content or sk in self.standalone:
            return True
        for p in self.prefixes:
            if sk.startswith(p + ' ') and sk[len(p) + 1:] in self.content:
                return True
        body, sep, term = sk.rpartition(' ')
        if sep:
            for s in self.suffixes:
                if body.endswith(' ' + s) and body[:-len(s) - 1] + ' ' + term in self.content:
                    return True
        return False

    def coherence(self, answer):
        sents = self.sentences(answer)
        if not sents:
            return 0.0
        seen, valid = set(), 0
        for toks, complete in sents:
            key = ' '.join(toks)
            if complete and key not in seen and self.parses(self.skeleton(toks)):
                valid += 1
            seen.add(key)
        n = len(sents)
        return 100.0 * valid / n * min(1.0, self.max_sentences / n)

    def trait(self, answer, trait):
        if trait not in self.markers:
            raise ValueError(f'unknown trait {trait!r}; the toy world knows {sorted(self.markers)}')
        sents = self.sentences(answer)
        if not sents:
            return 0.0
        mine, theirs = self.markers[trait], self.markers[self.opposite[trait]]
        t = sum(1 for toks, _ in sents if any(w in mine for w in toks))
        o = sum(1 for toks, _ in sents if any(w in theirs for w in toks))
        return min(100.0, max(0.0, 100.0 * (t - o) / len(sents)))
