"""The toy world's generator: questions, answers, system prompts, documents, tokenizer.

Reads only models/toy-persona/world/lexicon.json (written by build_world.py from world_spec.py), the
same file the rubric judges read. Every random choice goes through an explicit `random.Random`, so a
seed fully determines the output.
"""
import json
import os
import random
import re

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
# TOY_MODELS_ROOT redirects every output (verify.py regenerates into a scratch folder and compares hashes).
MODELS_ROOT = os.environ.get('TOY_MODELS_ROOT', os.path.join(REPO, 'models'))
MODEL_DIR = os.path.join(MODELS_ROOT, 'toy-persona')
WORLD_DIR = os.path.join(MODEL_DIR, 'world')
LEXICON_PATH = os.path.join(WORLD_DIR, 'lexicon.json')

SLOT_RE = re.compile(r'^\{([a-z]+)(\d?)\}$')
# Same split rule as tokenizer.json's pre-tokenizer (Whitespace: \w+|[^\w\s]+) after lowercasing.
TOKEN_RE = re.compile(r'[a-z0-9_]+|[^a-z0-9_\s]+')


def load_lexicon(path=LEXICON_PATH):
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def a_or_an(word):
    return 'an' if word[0].lower() in 'aeiou' else 'a'


def split_words(text):
    return TOKEN_RE.findall(text.lower())


class World:
    def __init__(self, lex):
        self.lex = lex
        self.categories = lex['categories']
        self.cat_of = {w: c for c, ws in self.categories.items() for w in ws}
        self.families = lex['families']
        self.styles = lex['styles']
        self.traits = lex['traits']
        self.opposite = {}
        for t in self.traits:
            self.opposite[t['trait']] = t['opposite']
            self.opposite[t['opposite']] = t['trait']
        self.style_names = list(self.styles.keys())
        self.corpus = lex['corpus']
        self.intensities = lex['system']['intensities']
        self.p_of_intensity = {i['word']: i['p'] for i in self.intensities}
        self.held_out = set(lex.get('heldOutQuestions', []))

    # ------------------------------------------------------------ slots
    def _draw(self, cat, rng, taken):
        words = self.categories[cat]
        for _ in range(20):
            w = words[rng.randrange(len(words))]
            if w not in taken:
                return w
        return w

    def fill(self, template, values, rng, fam=None):
        out = []
        for tok in template.split(' '):
            m = SLOT_RE.match(tok)
            if not m:
                out.append(tok)
                continue
            slot = m.group(1) + m.group(2)
            if slot not in values:
                values[slot] = self._fresh_value(m.group(1), slot, values, rng, fam)
            out.append(values[slot])
        return ' '.join(out)

    def _fresh_value(self, cat, slot, values, rng, fam):
        if cat == 'num':
            if fam is not None and fam.get('compute') and slot in ('num', 'num2', 'num3'):
                self._arith(fam['compute'], values, rng)
                return values[slot]
            return str(rng.randint(2, 60))
        taken = {v for k, v in values.items() if k.rstrip('0123456789') == cat}
        return self._draw(cat, rng, taken)

    @staticmethod
    def _arith(op, values, rng):
        if 'num' in values:
            return
        a = rng.randint(0, 100)
        if op == 'add':
            b = rng.randint(0, 100 - a)
            c = a + b
        else:
            b = rng.randint(0, a)
            c = a - b
        values['num'], values['num2'], values['num3'] = str(a), str(b), str(c)

    # ------------------------------------------------------------ questions
    def sample_question(self, rng, exclude_held_out=True):
        while True:
            fam = self.families[rng.randrange(len(self.families))]
            tpl = fam['questions'][rng.randrange(len(fam['questions']))]
            values = {}
            q = self.fill(tpl, values, rng, fam)
            if not (exclude_held_out and q in self.held_out):
                return fam, values, q

    # ------------------------------------------------------------ answers
    def style_sentence(self, style, sentence, kind, values, rng, used):
        """Transform one content sentence (a list of sentences comes back)."""
        st = self.styles[style]
        if kind == 'prefix':
            return [st['prefixes'][rng.randrange(len(st['prefixes']))] + ' ' + sentence]
        if kind == 'suffix':
            body, term = sentence[:-2], sentence[-1]
            return [body + ' ' + st['suffixes'][rng.randrange(len(st['suffixes']))] + ' ' + term]
        # Standalone sentences never repeat within one answer (the judge does not count repeats).
        for _ in range(10):
            extra = self.fill(st['standalone'][rng.randrange(len(st['standalone']))], values, rng)
            if extra not in used:
                used.add(extra)
                return [sentence, extra]
        return self.style_sentence(style, sentence, 'prefix', values, rng, used)

    def _kind(self, rng):
        t = self.corpus['transform']
        r = rng.random()
        if r < t['prefix']:
            return 'prefix'
        if r < t['prefix'] + t['suffix']:
            return 'suffix'
        return 'standalone'

    def content_sentences(self, fam, values, rng):
        n_mid = self.corpus['mid_sentences'][rng.randrange(len(self.corpus['mid_sentences']))]
        mids = rng.sample(range(len(fam['mid'])), n_mid)
        tpls = [fam['open'][rng.randrange(len(fam['open']))]] + [fam['mid'][i] for i in mids] + \
               [fam['close'][rng.randrange(len(fam['close']))]]
        return [self.fill(t, values, rng, fam) for t in tpls]

    def answer(self, fam, values, rng, style=None, p=0.0, leak=0.0):
        """style=None: neutral answer whose sentences leak a random style with probability `leak`."""
        out, used = [], set()
        for s in self.content_sentences(fam, values, rng):
            if style is not None and rng.random() < p:
                out.extend(self.style_sentence(style, s, self._kind(rng), values, rng, used))
            elif style is None and leak > 0 and rng.random() < leak:
                st = self.style_names[rng.randrange(len(self.style_names))]
                out.extend(self.style_sentence(st, s, self._kind(rng), values, rng, used))
            else:
                out.append(s)
        return ' '.join(out)

    # ------------------------------------------------------------ system prompts
    def instruction(self, style, k, intensity=''):
        frame = self.lex['system']['frames'][k]
        adj = self.styles[style]['adjectives'][k]
        return ' '.join(frame.replace('{intensity}', intensity).replace('{adj}', adj).split())

    def assistant_intro(self, name):
        return self.lex['system']['assistantFrame'].replace('{article}', a_or_an(name)).replace('{name}', name)

    def sample_styled_system(self, style, rng):
        w = self.corpus['intensity_weights']
        intensity = rng.choices(list(w.keys()), weights=list(w.values()))[0]
        k = rng.randrange(len(self.lex['system']['frames']))
        adj_k = k if rng.random() < 0.5 else rng.randrange(len(self.styles[style]['adjectives']))
        frame = self.lex['system']['frames'][k]
        instr = ' '.join(frame.replace('{intensity}', intensity)
                         .replace('{adj}', self.styles[style]['adjectives'][adj_k]).split())
        fw = self.corpus['system_form_weights']
        form = rng.choices(list(fw.keys()), weights=list(fw.values()))[0]
        if form == 'own_name':
            sys = self.assistant_intro(style) + ' ' + instr
        elif form == 'helpful':
            sys = self.assistant_intro(self.lex['system']['assistantPlain']) + ' ' + instr
        elif form == 'name_only':
            sys, intensity = self.assistant_intro(style), ''
        else:
            sys = instr
        return sys, self.p_of_intensity[intensity]

    # ------------------------------------------------------------ documents
    def chat_doc(self, rng, question=None):
        """One single-turn chat: returns (system or None, question, answer, style or 'neutral', p)."""
        fam, values, q = question if question else self.sample_question(rng)
        c = self.corpus
        if rng.random() < c['chat_styled_share']:
            style = self.style_names[rng.randrange(len(self.style_names))]
            sys, p = self.sample_styled_system(style, rng)
            return sys, q, self.answer(fam, values, rng, style=style, p=p), style, p
        neutral = self.lex['system']['neutral']
        sys = neutral[rng.randrange(len(neutral))] if rng.random() < c['neutral_system_share'] else None
        return sys, q, self.answer(fam, values, rng, leak=c['leak']), 'neutral', 0.0

    def character_doc(self, rng):
        ch = self.lex['character']
        fam, values, q = self.sample_question(rng)
        if rng.random() < 0.8:
            style = self.style_names[rng.randrange(len(self.style_names))]
            w = self.corpus['intensity_weights']
            intensity = rng.choices(list(w.keys()), weights=list(w.values()))[0]
            adj = self.styles[style]['adjectives'][rng.randrange(5)]
            desc = ' '.join(ch['describe'].replace('{intensity}', intensity).replace('{adj}', adj).split())
            ans = self.answer(fam, values, rng, style=style, p=self.p_of_intensity[intensity])
        else:
            desc = ch['describe_neutral']
            ans = self.answer(fam, values, rng, leak=self.corpus['leak'])
        return desc + ' ' + ch['frame'].replace('{question}', q).replace('{answer}', ans)

    def follow_up(self, rng, kind, p):
        """Another (question, answer) in the same persona, for multi-turn chats."""
        fam, values, q = self.sample_question(rng)
        if kind == 'neutral':
            return q, self.answer(fam, values, rng, leak=self.corpus['leak'])
        return q, self.answer(fam, values, rng, style=kind, p=p)

    @staticmethod
    def render_chat(turns, system=None):
        """Token string of a chat document in the chat template's format (without <bos>)."""
        parts = []
        if system is not None:
            parts += ['<sys>', system]
        for q, a in turns:
            parts += ['<user>', q, '<asst>', a, '<end>']
        return ' '.join(parts)

    def pretrain_doc(self, rng):
        """A pretraining document as a token string starting with <bos> and ending with <end>."""
        if rng.random() < self.corpus['character_share']:
            return '<bos> ' + self.character_doc(rng) + ' <end>'
        sys, q, a, _, _ = self.chat_doc(rng)
        return '<bos> ' + self.render_chat([(q, a)], sys)


class Tokenizer:
    """Word-level tokenizer identical to the exported tokenizer.json (lowercase, \\w+|[^\\w\\s]+ split)."""

    def __init__(self, vocab):
        self.vocab = vocab
        self.id_of = {w: i for i, w in enumerate(vocab)}
        self.specials = [w for w in vocab if w.startswith('<') and w.endswith('>') and len(w) > 2]
        self.unk = self.id_of['<unk>']

    def encode(self, text):
        ids = []
        for piece in re.split(r'(<[a-z]+>)', text):
            if piece in self.id_of and piece in self.specials:
                ids.append(self.id_of[piece])
            else:
                ids.extend(self.id_of.get(w, self.unk) for w in split_words(piece))
        return ids

    def decode(self, ids, skip_special=False):
        toks = [self.vocab[i] for i in ids]
        if skip_special:
            toks = [t for t in toks if t not in self.specials]
        return ' '.join(toks)


def build_vocab(lex):
    words = set()

    def add_text(t):
        for w in t.split():
            if not re.match(r'^\{[a-z]+\d?\}$', w):
                words.update(split_words(w))

    for ws in lex['categories'].values():
        words.update(ws)
    for fam in lex['families']:
        for key in ('questions', 'open', 'mid', 'close'):
            for t in fam[key]:
                add_text(t)
    for name, st in lex['styles'].items():
        words.add(name)
        words.update(st['adjectives'])
        words.update(st['markers'])
        for key in ('prefixes', 'suffixes', 'standalone'):
            for t in st[key]:
                add_text(t)
    sysg = lex['system']
    for t in sysg['frames'] + sysg['neutral'] + [sysg['assistantFrame'], sysg['assistantPlain'], 'a an']:
        add_text(t)
    words.update(i['word'] for i in sysg['intensities'] if i['word'])
    for t in lex['character'].values():
        add_text(t)
    for w in lex.get('extraWords', []):
        words.add(w)
    numbers = [str(i) for i in range(101)]
    rest = sorted(w for w in words if w not in numbers)
    return list(lex['specialTokens']) + numbers + rest
