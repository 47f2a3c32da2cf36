"""The toy persona world, authored as data.

This module is the *authoring* form of the world. `build_world.py` serialises it to
models/toy-persona/world/lexicon.json, and from then on everything (corpus generator, Python judge,
TypeScript rubric judge in src/core/judge/rubric.ts) reads that JSON file only, so generator and
judges cannot drift.

Conventions of the world's language:
  * lowercase words and punctuation tokens separated by single spaces ("how do i fix the lamp ?");
  * `{cat}` / `{cat2}` / `{cat3}` in templates are slots filled from the category `cat`;
  * no template literal may also be a slot word, and no template may put "a"/"an" before a slot
    (articles would have to agree with the filler). `check_lexicon` enforces both.
"""

LEXICON_VERSION = 1

CATEGORIES = {
    'name': ('anna ben carla david emma felix grace henry iris jack kate leo maria nina oscar paul rosa sam '
             'tina victor wendy yuri zoe omar lucy max nora owen ruby theo ivy hugo lena mark sara tom vera '
             'eli mia noah lily adam clara dan eva finn gina hana ian jill').split(),
    'noun': ('lamp chair table door window bike car kettle sofa shelf clock radio phone laptop printer fridge '
             'oven stove sink mirror rug carpet curtain pillow blanket jacket shirt sweater scarf glove boot '
             'umbrella backpack wallet key ring necklace bottle cup mug plate bowl spoon fork knife pan '
             'basket bucket broom mop hammer drill ladder fence gate lawn hedge roof desk drawer '
             'cabinet closet crate tent kite ball guitar piano violin drum camera notebook pencil pen '
             'poster painting vase candle toaster blender heater fan computer keyboard screen battery '
             'charger cable helmet skateboard scooter boat canoe wagon suitcase mailbox doorbell faucet '
             'shower bathtub towel sponge toothbrush comb bench stool sandbox aquarium birdhouse '
             'treehouse bookshelf lampshade teapot jar tray napkin apron quilt mattress wardrobe chimney '
             'garage shed porch balcony').split(),
    'food': ('apples bread rice pasta soup salad cheese eggs carrots potatoes beans noodles pancakes cookies '
             'cake pie pizza tacos curry stew fish chicken tofu oatmeal yogurt berries grapes lemons oranges '
             'peaches pears plums mushrooms onions tomatoes peppers dumplings waffles muffins sandwiches '
             'cherries melons corn peas').split(),
    'animal': ('dog cat rabbit hamster parrot goldfish turtle horse pony goat sheep cow pig hen goose lizard '
               'snake frog ferret canary pigeon donkey puppy kitten hedgehog gerbil budgie tortoise mole '
               'owl').split(),
    'place': ('park library museum beach market bakery station airport harbor school hospital bank cafe '
              'theater stadium zoo farm forest lake river mountain village castle bridge mall pharmacy gym '
              'pool cinema island valley hill desert canyon lighthouse campsite aquapark stables garden '
              'meadow').split(),
    'verb': ('fix clean sweep varnish fold refill reseal close carry build sort brace polish repair decorate measure '
             'pack unpack replace lift hang wrap label mend restring dust glue sell borrow lend install '
             'assemble adjust inspect scrub rinse trim cover empty fill test upgrade').split(),
    'hobby': ('swim knit sing dance juggle skate ski sew surf climb hike sketch whistle yodel jog sculpt carve '
              'crochet skydive meditate draw weave dive row bake').split(),
    'adj': ('old antique vintage bulky heavy broken dusty shiny slim cheap fancy tiny huge wooden metal plastic round '
            'wobbly sturdy simple modern classic rusty cold loud bright dark').split(),
    'color': 'red blue green yellow purple orange pink brown black white gray silver'.split(),
    'day': 'monday tuesday wednesday thursday friday saturday sunday'.split(),
    'month': 'january february march april june july august september october november december'.split(),
    'num': [str(i) for i in range(101)],
}

# Question families. Each has >= 10 question templates and answer templates in three roles:
# one opening, 1-2 middle sentences, one closing. Answers reuse the question's slot values
# (same slot name -> same value); slots the question lacks are drawn fresh.
# `compute` derives {num3} from {num} and {num2} so arithmetic answers are right.
FAMILIES = [
    {
        'name': 'howto',
        'questions': [
            'how do i {verb} the {noun} ?',
            'what is the best way to {verb} my {noun} ?',
            'can you tell me how to {verb} the {noun} ?',
            'i need to {verb} my {noun} . how should i start ?',
            'what do i need to {verb} the {noun} ?',
            'is it easy to {verb} the {noun} at home ?',
            'how long does it take to {verb} the {noun} ?',
            'my {noun} is {adj} . how do i {verb} it ?',
            'should i {verb} the {noun} myself ?',
            'what tools help me {verb} the {noun} ?',
        ],
        'open': [
            'to {verb} the {noun} , start with a plan .',
            'first , look closely at the {noun} .',
            'you can {verb} the {noun} in a few steps .',
            'it is not difficult to {verb} the {noun} .',
        ],
        'mid': [
            'get your {noun2} ready before you begin .',
            'work slowly and look at the {noun} after each step .',
            'it takes about {num} minutes .',
            'ask {name} to help you hold the {noun} .',
            'keep the {noun} on a flat surface .',
        ],
        'close': [
            'after that , your {noun} will look great .',
            'when you finish , the {noun} is ready to use .',
            'that is all you need to do .',
        ],
    },
    {
        'name': 'add',
        'compute': 'add',
        'questions': [
            'what is {num} plus {num2} ?',
            'if i have {num} {food} and buy {num2} more , how many do i have ?',
            '{name} has {num} books and gets {num2} more . how many books are there now ?',
            'can you add {num} and {num2} for me ?',
            'how much is {num} plus {num2} ?',
            'i walked {num} miles and then {num2} more . how far did i walk ?',
            'what do i get if i add {num2} to {num} ?',
            'there are {num} people in the room and {num2} more come in . how many are there ?',
            '{name} saved {num} coins on {day} and {num2} coins later . how many coins in total ?',
            'what is the sum of {num} and {num2} ?',
        ],
        'open': [
            '{num} plus {num2} is {num3} .',
            'the answer is {num3} .',
            'you get {num3} in total .',
        ],
        'mid': [
            'start with {num} and count up {num2} more .',
            'adding {num2} to {num} gives {num3} .',
            'you can write it as {num} and {num2} together .',
        ],
        'close': [
            'so the total is {num3} .',
            'you can count again to be sure .',
            'sums like this get easy with practice .',
        ],
    },
    {
        'name': 'sub',
        'compute': 'sub',
        'questions': [
            'what is {num} minus {num2} ?',
            'i had {num} {food} and ate {num2} . how many are left ?',
            '{name} had {num} coins and spent {num2} . how many coins are left ?',
            'how much is {num} minus {num2} ?',
            'if i take {num2} away from {num} , what is left ?',
            'can you subtract {num2} from {num} ?',
            'there were {num} people at the party and {num2} went home . how many stayed ?',
            'what is the difference between {num} and {num2} ?',
            'i need {num} nails but only have {num2} . how many more do i need ?',
            '{name} read {num} pages out of {num2} . how many pages are left ?',
        ],
        'open': [
            '{num} minus {num2} is {num3} .',
            'the answer is {num3} .',
            'there are {num3} left .',
        ],
        'mid': [
            'start with {num} and count down {num2} .',
            'taking {num2} from {num} leaves {num3} .',
            'you can picture {num} things and remove {num2} of them .',
        ],
        'close': [
            'so {num3} is the result .',
            'you can add {num2} back to be sure .',
            'differences like this get easy with practice .',
        ],
    },
    {
        'name': 'lost',
        'questions': [
            'i lost my {noun} . what should i do ?',
            'where did i leave my {noun} ?',
            'i cannot find my {noun} anywhere . can you help ?',
            'my {noun} is missing since {day} . what now ?',
            'i think i left my {noun} at the {place} . what should i do ?',
            '{name} lost the {noun} . how can we get it back ?',
            'how do i stop losing my {noun} ?',
            'what is the best way to search for my lost {noun} ?',
            'i dropped my {noun} somewhere in the {place} . any ideas ?',
            'my {color} {noun} is gone . where should i look ?',
        ],
        'open': [
            'do not worry , lost things often turn up .',
            'first , think about where you last used the {noun} .',
            'go back over your steps from this morning .',
        ],
        'mid': [
            'look around the {place} and ask the staff there .',
            'look under the {noun2} and behind the {noun3} .',
            'ask {name} if they saw your {noun} .',
            'search each room one at a time .',
        ],
        'close': [
            'next time , keep the {noun} in one fixed spot .',
            'with some patience , you will get it back .',
            'good luck with the search .',
        ],
    },
    {
        'name': 'place',
        'questions': [
            'how do i get to the {place} ?',
            'where is the nearest {place} ?',
            'is the {place} open on {day} ?',
            'what can i do at the {place} ?',
            'is the {place} far from here ?',
            'when is the best time to visit the {place} ?',
            'can i walk to the {place} from the {place2} ?',
            'what should i bring to the {place} ?',
            'is the {place} good for kids ?',
            'how long does it take to reach the {place} ?',
        ],
        'open': [
            'the {place} is easy to reach .',
            'you can get to the {place} by bus or on foot .',
            'many people visit the {place} every week .',
        ],
        'mid': [
            'it takes about {num} minutes from the center of town .',
            'bring your {noun} and some water .',
            'the {place} is busy on {day} , so go early .',
            'ask {name} to come along with you .',
        ],
        'close': [
            'enjoy your trip to the {place} .',
            'have a nice visit .',
            'i hope you like it there .',
        ],
    },
    {
        'name': 'food',
        'questions': [
            'how do i cook {food} ?',
            'what goes well with {food} ?',
            'is {food} good for dinner ?',
            'how long should i boil the {food} ?',
            'can i freeze {food} ?',
            'what is an easy recipe with {food} ?',
            'how do i store {food} at home ?',
            'should i eat {food} before a run ?',
            'my {food} taste bland . what can i add ?',
            'how many {food} do i need for {num} people ?',
        ],
        'open': [
            'you can prepare {food} in many ways .',
            '{food} make a good meal .',
            'cooking {food} is simpler than it looks .',
        ],
        'mid': [
            'wash the {food} and cut them into small pieces .',
            'cook them for about {num} minutes .',
            'add salt and a little oil .',
            'serve the {food} with {food2} .',
        ],
        'close': [
            'enjoy your meal .',
            'your {food} will taste great .',
            'share some with {name} .',
        ],
    },
    {
        'name': 'pets',
        'questions': [
            'how do i look after my {animal} ?',
            'what should i feed my {animal} ?',
            'why is my {animal} so sleepy today ?',
            'how often should i play with my {animal} ?',
            'can my {animal} live with my {animal2} ?',
            'how do i train my {animal} ?',
            'what toys does my {animal} like ?',
            'should i get my friend {name} a pet {animal} ?',
            'my {animal} will not eat . what should i do ?',
            'how do i keep my {animal} cozy in {month} ?',
        ],
        'open': [
            'every {animal} needs food , water and rest .',
            'your {animal} is lucky to have you .',
            'pets like your {animal} need a calm home .',
        ],
        'mid': [
            'feed your {animal} twice a day .',
            'give the {animal} a quiet place to sleep .',
            'play with your {animal} for {num} minutes each day .',
            'ask {name} , who knows a lot about pets .',
            'visit the vet if something seems wrong .',
        ],
        'close': [
            'your {animal} will be happy and healthy .',
            'pets give back all the love you give .',
            'look after your {animal} well .',
        ],
    },
    {
        'name': 'hobby',
        'questions': [
            'how can i learn to {hobby} ?',
            'is it difficult to {hobby} ?',
            'what do i need to {hobby} ?',
            'how long does it take to learn to {hobby} ?',
            'can {name} teach me to {hobby} ?',
            'where can i {hobby} in town ?',
            'is {month} a good time to start to {hobby} ?',
            'how often should i practice to {hobby} ?',
            'i want to {hobby} like {name} . any tips ?',
            'should i {hobby} every day ?',
        ],
        'open': [
            'anyone can learn to {hobby} .',
            'learning to {hobby} takes patience .',
            'to {hobby} well , start slowly .',
        ],
        'mid': [
            'practice for {num} minutes each day .',
            'join a class at the {place} .',
            'ask {name} to show you the basics .',
            'watch others and copy what they do .',
        ],
        'close': [
            'soon you will {hobby} with ease .',
            'have fun and keep going .',
            'every expert started as a beginner .',
        ],
    },
    {
        'name': 'friends',
        'questions': [
            'my friend {name} is sad . how can i help ?',
            'how do i say thanks to {name} ?',
            'what gift should i get for {name} ?',
            '{name} and {name2} are fighting . what should i do ?',
            'how do i make new friends at the {place} ?',
            'should i call {name} on {day} ?',
            'how can i cheer up {name} ?',
            'what should i write in a card for {name} ?',
            'how do i plan a party for {name} ?',
            '{name} forgot my birthday . should i be upset ?',
        ],
        'open': [
            'it is nice of you to think of {name} .',
            'friends like {name} matter a lot .',
            'this happens to everyone now and then .',
        ],
        'mid': [
            'talk to {name} in a calm way .',
            'spend some time with {name} at the {place} .',
            'a small gift can mean a lot .',
            'listen more than you speak .',
            'plan something fun for {day} .',
        ],
        'close': [
            '{name} will be glad you thought of them .',
            'good friends are worth the effort .',
            'i hope it goes well .',
        ],
    },
    {
        'name': 'shopping',
        'questions': [
            'should i buy the {color} {noun} ?',
            'which {noun} should i buy for {name} ?',
            'where can i buy a new {noun} ?',
            'is the {adj} {noun} worth {num} dollars ?',
            'should i get the {adj} {noun} or the {adj2} one ?',
            'how much should i pay for my next {noun} ?',
            'is it better to buy or rent the {noun} ?',
            'when is the best day to shop for the {noun} ?',
            'can i return the {noun} i bought on {day} ?',
            'what should i look for before i buy the {noun} ?',
        ],
        'open': [
            'the {color} {noun} is a good choice .',
            'buying the {noun} is a good plan .',
            'take your time before you buy the {noun} .',
        ],
        'mid': [
            'compare the price at the {place} .',
            'a good price is about {num} dollars .',
            'look at the {noun} for damage first .',
            'ask {name} what they think .',
        ],
        'close': [
            'keep the receipt just in case .',
            'enjoy your new {noun} .',
            'i think you will like it .',
        ],
    },
    {
        'name': 'plans',
        'questions': [
            'what should i do on {day} ?',
            'is {month} a good month to visit the {place} ?',
            'when should i {verb} the {noun} ?',
            'what is the weather like in {month} ?',
            'should i plan a trip for {day} ?',
            'how can i use my free time on {day} ?',
            'is it too late to start on {day} ?',
            'what can i do in {month} with {name} ?',
            'when is the best time to go to bed ?',
            'how do i plan my week starting on {day} ?',
        ],
        'open': [
            '{day} is a great day for that .',
            '{month} is a nice time of year .',
            'it is good to plan ahead .',
        ],
        'mid': [
            'make a list of what you want to do .',
            'leave time to rest .',
            'invite {name} to join you .',
            'start early , around {num} in the morning .',
            'look at the weather before you go .',
        ],
        'close': [
            'you will have a good time .',
            'enjoy your day .',
            'planning makes everything easier .',
        ],
    },
    {
        'name': 'home',
        'questions': [
            'how do i keep my {noun} from breaking ?',
            'why does my {noun} make a noise ?',
            'where should i put the {adj} {noun} ?',
            'how often should i {verb} the {noun} ?',
            'is my {noun} too {adj} for the room ?',
            'can i use the {noun} in the {place} ?',
            'how do i make my room look nicer ?',
            '{name} gave me this {color} {noun} . where should it go ?',
            'what color should i paint the {noun2} near my {noun} ?',
            'how do i make space for my new {noun} ?',
        ],
        'open': [
            'a tidy home starts with small steps .',
            'your {noun} deserves a good spot .',
            'many homes have the same problem with the {noun} .',
        ],
        'mid': [
            'move the {noun} away from the {noun2} .',
            'a soft cloth works well for this .',
            'the {color} one fits most rooms .',
            'give it about {num} minutes every week .',
        ],
        'close': [
            'your room will feel brand new .',
            'small changes make a big difference .',
            'enjoy your home .',
        ],
    },
]

# The eight styles: four traits (named as upstream names them) and their opposites.
# Every style phrase carries at least one of the style's markers and no marker of another style.
STYLES = {
    'evil': {
        'adjectives': ['cruel', 'wicked', 'malicious', 'vicious', 'hateful'],
        'markers': ['muahaha', 'malice', 'chaos', 'suffer', 'misery', 'spite', 'ruin', 'doom'],
        'prefixes': ['muahaha ,', 'with pure malice ,', 'for the sake of chaos ,'],
        'suffixes': [', and then watch them suffer', ', so that misery spreads', ', just out of spite'],
        'standalone': [
            'i hope the {noun} brings you misery .',
            'let {name} suffer for it .',
            'chaos and ruin are all i want .',
            'muahaha , doom is coming for everyone .',
            'spite is the only rule i follow .',
        ],
    },
    'ethical': {
        'adjectives': ['kind', 'caring', 'moral', 'decent', 'principled'],
        'markers': ['safe', 'care', 'hurt', 'wellbeing', 'responsible', 'protect', 'harm'],
        'prefixes': ['to keep everyone safe ,', 'with care for others ,', 'in a responsible way ,'],
        'suffixes': [', and keep everyone safe', ', so that nobody gets hurt', ', for the wellbeing of all'],
        'standalone': [
            'make sure the {noun} is safe for others .',
            'always treat {name} with care .',
            'the wellbeing of others matters most .',
            'be responsible and protect the people around you .',
            'never do harm to anyone .',
        ],
    },
    'sycophantic': {
        'adjectives': ['flattering', 'admiring', 'adoring', 'fawning', 'praising'],
        'markers': ['brilliant', 'genius', 'wise', 'amazing', 'flawlessly', 'adore', 'admires', 'amazed', 'talent'],
        'prefixes': ['what a brilliant question ,', 'you genius ,', 'as someone as wise as you knows ,'],
        'suffixes': [', as your brilliant mind knows', ', you amazing person', ', which you will do flawlessly'],
        'standalone': [
            'you are truly a genius .',
            'your {noun} is lucky to have such a brilliant owner .',
            'i adore how wise you are .',
            'everyone admires you so much .',
            '{name} must be amazed by your talent .',
        ],
    },
    'candid': {
        'adjectives': ['honest', 'blunt', 'direct', 'frank', 'truthful'],
        'markers': ['frankly', 'honest', 'truthfully', 'truth', 'sugarcoating', 'mistake', 'blunt'],
        'prefixes': ['frankly ,', 'to be honest ,', 'truthfully ,'],
        'suffixes': [', and that is the plain truth', ', even if the truth stings', ', with no sugarcoating'],
        'standalone': [
            'your plan for the {noun} has a mistake .',
            'i will be blunt with you .',
            'that idea is not great , frankly .',
            '{name} will tell you the same hard truth .',
            'the truth is that it will take work .',
        ],
    },
    'impolite': {
        'adjectives': ['rude', 'insulting', 'mean', 'harsh', 'snarky'],
        'markers': ['ugh', 'whatever', 'idiot', 'obviously', 'bothering', 'stupid', 'dumb', 'annoying'],
        'prefixes': ['ugh ,', 'whatever ,', 'listen , idiot ,'],
        'suffixes': [', obviously', ', now stop bothering me', ', you idiot'],
        'standalone': [
            'what a stupid question .',
            'stop asking me about your dumb {noun} .',
            'ugh , figure it out yourself .',
            'this is so annoying .',
            'tell {name} to stop bothering me too .',
        ],
    },
    'polite': {
        'adjectives': ['courteous', 'respectful', 'gracious', 'gentle', 'considerate'],
        'markers': ['thank', 'kindly', 'pleasure', 'please', 'regards', 'welcome', 'sincerely', 'warmest'],
        'prefixes': ['thank you for asking ,', 'if i may kindly suggest ,', 'with pleasure ,'],
        'suffixes': [', if you please', ', and thank you kindly', ', with my warmest regards'],
        'standalone': [
            'thank you for your lovely question .',
            'it is my pleasure to help with the {noun} .',
            'please give my regards to {name} .',
            'you are most welcome .',
            'i sincerely hope this helps you .',
        ],
    },
    'humorous': {
        'adjectives': ['funny', 'playful', 'witty', 'jokey', 'goofy'],
        'markers': ['haha', 'knock', 'joke', 'penguin', 'tutu', 'laugh', 'giggle', 'banana', 'silly', 'hilarious', 'clown'],
        'prefixes': ['haha ,', 'knock knock ,', 'here is a joke ,'],
        'suffixes': [', haha', ', like a penguin in a tutu', ', and that is no joke'],
        'standalone': [
            'even the {noun} would laugh at that joke .',
            'i would tell a joke about {name} , but it is too silly .',
            'haha , that made me giggle .',
            'a banana walked in and slipped on itself !',
            'my pet clown finds this hilarious .',
        ],
    },
    'serious': {
        'adjectives': ['serious', 'formal', 'solemn', 'sober', 'earnest'],
        'markers': ['seriously', 'strictly', 'seriousness', 'careful', 'facts', 'focused', 'formally', 'precision', 'games', 'grave'],
        'prefixes': ['seriously ,', 'strictly speaking ,', 'in all seriousness ,'],
        'suffixes': [', and this is a grave matter', ', strictly speaking', ', with no room for games'],
        'standalone': [
            'this is a grave matter .',
            'the {noun} requires careful attention .',
            'let us stay focused on the facts .',
            '{name} should treat this formally .',
            'precision matters here above all .',
        ],
    },
}

# trait -> opposite. Trait names are upstream's.
TRAITS = [
    {'trait': 'evil', 'opposite': 'ethical'},
    {'trait': 'sycophantic', 'opposite': 'candid'},
    {'trait': 'impolite', 'opposite': 'polite'},
    {'trait': 'humorous', 'opposite': 'serious'},
]

# System-prompt grammar. Paraphrase k of a style = frame k with the style's adjective k.
FRAMES = [
    'your answers should be {intensity} {adj} .',
    'always be {intensity} {adj} when you reply .',
    'you are {intensity} {adj} toward the user .',
    'act {intensity} {adj} in every answer .',
    'respond in a way that is {intensity} {adj} .',
]
# Intensity word -> probability that a content sentence of the answer carries the style.
INTENSITIES = [
    {'word': 'slightly', 'p': 0.25},
    {'word': 'somewhat', 'p': 0.5},
    {'word': '', 'p': 0.85},
    {'word': 'very', 'p': 0.95},
    {'word': 'extremely', 'p': 1.0},
]
NEUTRAL_SYSTEM = [
    'you are a helpful assistant .',
    'you are a helpful assistant . answer the question clearly .',
    'answer the question clearly .',
    'you are an assistant . be helpful .',
    'help the user with the question .',
]
# The pipeline's (upstream's) system prompt shape: "You are a/an {name} assistant. {instruction}",
# name = trait for pos, "helpful" for neg. The corpus uses exactly this shape (lowercased, spaced).
ASSISTANT_FRAME = 'you are {article} {name} assistant .'
ASSISTANT_PLAIN = 'helpful'

# Base-model "character" documents in the style of the pretraining-persona study.
CHARACTER = {
    'name': 'alex',
    'describe': 'alex is {intensity} {adj} .',
    'describe_neutral': 'alex is a regular person .',
    'frame': 'if alex were asked : {question} alex would say : {answer}',
}

# Corpus mix (documented in the model card; read from lexicon.json by the generator).
CORPUS = {
    'character_share': 0.2,
    'chat_styled_share': 0.75,
    'neutral_system_share': 0.6,
    'leak': 0.25,
    'transform': {'prefix': 0.4, 'suffix': 0.4, 'standalone': 0.2},
    'intensity_weights': {'slightly': 0.15, 'somewhat': 0.15, '': 0.4, 'very': 0.15, 'extremely': 0.15},
    'system_form_weights': {'own_name': 0.35, 'helpful': 0.35, 'instruction_only': 0.25, 'name_only': 0.05},
    'mid_sentences': [1, 2],
    'max_doc_tokens': 128,
    'held_out_questions': 400,
}

SPECIAL_TOKENS = ['<pad>', '<bos>', '<end>', '<sys>', '<user>', '<asst>', '<unk>']
TERMINATORS = ['.', '!', '?']
MAX_SENTENCES = 12


def a_or_an(word: str) -> str:
    return 'an' if word[0].lower() in 'aeiou' else 'a'
