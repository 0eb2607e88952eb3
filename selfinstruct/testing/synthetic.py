"""Deterministic grammar of realistic task instructions for the loopback server.

Self-Instruct's filters (ROUGE-L dedup, keyword/length/start rules) can only be
tested against data that looks like what a chat model writes: varied, with
a realistic share of classification and input-taking tasks, plus the typical
defects. Every template is declarative so that `task_for` can re-match any
instruction the grammar produced and recover its metadata (classification?
labels? takes an input?) without shared state between processes.

Pattern syntax: ``{slot}`` picks from ``SLOTS[slot]`` (trailing digits are an
alias, so ``{profession2}`` is a second, independent profession);
``[a|b|c]`` picks one literal alternative; ``{labels}``, ``{noun}`` and
``{nouns}`` come from the template's label sets.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import cache

from selfinstruct.filters.rouge import rouge_l

__all__ = [
    "BANNED_KEYWORDS",
    "LabelSet",
    "SyntheticGenerator",
    "SyntheticTask",
    "Template",
    "bad_start_instruction",
    "keyword_instruction",
    "near_copy",
    "sample_task",
    "short_instruction",
    "task_for",
]

# The keyword filter of the Self-Instruct paper (plus the extra modalities its
# code also rejects). Clean instructions never contain any of them.
BANNED_KEYWORDS: tuple[str, ...] = (
    "image", "images", "graph", "graphs", "picture", "pictures", "file", "files",
    "map", "maps", "draw", "plot", "go to", "video", "audio", "music",
    "flowchart", "diagram",
)

# Share of classification tasks by default, and when a prompt asks for them.
CLASSIFICATION_SHARE = 0.22
CLASSIFICATION_BIAS = 0.8


@dataclass(frozen=True)
class SyntheticTask:
    """One generated instruction and what a later answer needs to know about it."""

    instruction: str
    is_classification: bool
    labels: tuple[str, ...]
    takes_input: bool
    family: str


@dataclass(frozen=True)
class LabelSet:
    """A classification label space, optionally tied to the thing classified."""

    labels: tuple[str, ...]
    noun: str = ""
    nouns: str = ""


@dataclass(frozen=True)
class Template:
    """A declarative instruction pattern; see the module docstring for syntax."""

    family: str
    pattern: str
    takes_input: bool = False
    labels: tuple[str, ...] = ()
    labelsets: tuple[LabelSet, ...] = ()

    @property
    def is_classification(self) -> bool:
        return bool(self.labels or self.labelsets)


def _words(text: str) -> tuple[str, ...]:
    """Split a '|'-separated slot list literal."""
    return tuple(w.strip() for w in text.split("|") if w.strip())


# --------------------------------------------------------------------------
# Slot vocabularies. None may contain a BANNED_KEYWORDS word.
# --------------------------------------------------------------------------

SLOTS: dict[str, tuple[str, ...]] = {
    "topic": _words(
        "climate change|the French Revolution|photosynthesis|machine learning|remote work|"
        "personal budgeting|the water cycle|black holes|renewable energy|the stock market|"
        "sleep hygiene|urban gardening|social media addiction|the Roman Empire|electric cars|"
        "mindfulness meditation|volcanic eruptions|the human immune system|cryptocurrency|"
        "public transportation|ocean acidification|the printing press|vaccine development|"
        "inflation|plastic recycling|the Cold War|honeybee decline|time management|"
        "plate tectonics|the Industrial Revolution|quantum computing|minimum wage laws|"
        "fast fashion|the Olympic Games|online privacy|antibiotic resistance|the Great Depression|"
        "space tourism|coral reef bleaching|compound interest|the Renaissance|gene editing|"
        "self-driving vehicles|the gig economy|food waste|the moon landing|migratory birds|"
        "the history of chocolate|microplastics|universal basic income|the Silk Road|"
        "deforestation in the Amazon|3D printing|the theory of evolution|ancient Egyptian pyramids|"
        "solar panels|homeschooling|the invention of the telephone|tidal energy|the placebo effect|"
        "minimalist living|wildfire prevention|the European Union|artificial sweeteners|"
        "nuclear fusion|language learning apps|the Harlem Renaissance|desalination|cloud computing|"
        "the Black Death|vertical farming|impostor syndrome|the Byzantine Empire|carbon taxes|"
        "open-source software|the decline of local newspapers|sourdough baking|volunteering abroad|"
        "dark matter|the four-day work week|rainforest ecosystems|ancient Greek democracy|"
        "the history of the bicycle|water scarcity|standardized testing|tiny houses|"
        "the Apollo program|fermentation|noise pollution|the Mongol Empire|invasive species|"
        "lucid dreaming|the metric system|procrastination|melting glaciers|the history of tea|"
        "biodiversity loss|public libraries|circadian rhythms|the Viking Age|food deserts|"
        "antique clocks|the Panama Canal|bird migration routes|electric bikes|ocean tides"
    ),
    "audience": _words(
        "a ten-year-old|a high school student|a busy parent|a first-time manager|a retired teacher|"
        "a software engineer|a nervous traveler|a new employee|a college freshman|"
        "a small business owner|a non-native English speaker|a skeptical investor|"
        "a curious grandparent|a group of kindergarteners|a medical student|a city council member|"
        "a professional athlete|a history buff|an aspiring novelist|a farmer in a rural village|"
        "a room full of venture capitalists|a teenager who hates reading|"
        "someone who has never used a computer|a graduate student in physics|"
        "a tourist visiting for the first time|a hospital administrator|a group of retirees|"
        "a shy introvert|a marketing intern|a professional chef|a night-shift security guard|"
        "a volunteer firefighter|an exchange student from Brazil|a stay-at-home dad|"
        "a startup founder|a high school principal"
    ),
    "genre": _words(
        "short story|poem|haiku|limerick|blog post|news article|motivational speech|diary entry|"
        "fable|persuasive essay|newspaper editorial|sonnet|bedtime story|radio advertisement|"
        "letter to the editor|free verse poem|comedic monologue|short play|magazine column|"
        "mystery story|fairy tale|travel journal entry|campfire tale|eulogy for a houseplant|"
        "commencement speech|wedding speech"
    ),
    "story_genre": _words(
        "mystery novel|science fiction story|romance novel|horror story|historical drama|"
        "detective story|fantasy adventure|coming-of-age story|spy thriller|heist comedy|"
        "ghost story|survival tale|courtroom drama|space opera|cozy village mystery|"
        "time travel story"
    ),
    "tone": _words(
        "formal|friendly|humorous|persuasive|sarcastic|optimistic|professional|casual|"
        "enthusiastic|empathetic|dramatic|whimsical|melancholic|inspiring|skeptical|nostalgic|"
        "playful|urgent|reassuring|poetic"
    ),
    "quality": _words(
        "concise|polite|engaging|inclusive|persuasive|professional|vivid|confident|upbeat|"
        "diplomatic|approachable|precise|memorable|respectful"
    ),
    "object": _words(
        "a bicycle|a coffee mug|an umbrella|a smartphone|a houseplant|a pair of running shoes|"
        "a backpack|a desk lamp|an electric kettle|a wristwatch|a yoga mat|a paperclip|"
        "a cast-iron skillet|a wool sweater|a reusable water bottle|a mechanical keyboard|"
        "a library card|a garden hose|a tent|a microwave oven|a rubber duck|a grand piano|"
        "a fountain pen|a skateboard|a telescope|a scented candle|a toaster|a hammer|a suitcase|"
        "a pair of sunglasses|a board game|a bookshelf|a vacuum cleaner|a kite|a snow globe|"
        "a sewing machine|a smart thermostat|a memory foam pillow|a compass|a ladder|a blender|"
        "a wooden spoon|a lunchbox|a baseball glove|a harmonica|a pair of headphones|"
        "a shopping cart|a fire extinguisher|a hot air balloon|a garden gnome|an alarm clock|"
        "a rocking chair|a tennis racket|a canoe|a doorbell|a stapler|a treadmill|a teapot|"
        "a raincoat|a chess set"
    ),
    "number": _words("three|four|five|six|seven|eight|ten"),
    "language": _words(
        "French|Spanish|German|Italian|Portuguese|Japanese|Korean|Mandarin Chinese|Russian|Dutch|"
        "Swedish|Turkish|Hindi|Arabic|Polish|Greek|Vietnamese|Indonesian|Swahili|Finnish"
    ),
    "prog_lang": _words(
        "Python|JavaScript|Java|C++|Rust|Ruby|TypeScript|Kotlin|Swift|Haskell|C#|PHP|Scala|"
        "Julia|Bash|Elixir"
    ),
    "code_unit": _words("function|method|class|script|module|snippet|helper function|data class"),
    "coding_task": _words(
        "reverses a linked list|checks whether a string is a palindrome|"
        "merges two sorted lists into one sorted list|counts the vowels in a sentence|"
        "returns the nth Fibonacci number|removes duplicates from a list while preserving order|"
        "finds the second largest number in an array|converts a Roman numeral to an integer|"
        "validates an email address|computes the greatest common divisor of two integers|"
        "flattens a nested list|checks whether two words are anagrams|"
        "rotates a square matrix by ninety degrees|finds the longest common prefix of several strings|"
        "converts Celsius temperatures to Fahrenheit|computes the median of a list of numbers|"
        "capitalizes the first letter of every word|detects a cycle in a linked list|"
        "implements binary search on a sorted array|counts how often each word appears in a text|"
        "generates all permutations of a string|checks whether a year is a leap year|"
        "sums the digits of an integer|finds all prime numbers below a given limit|"
        "checks whether the parentheses in an expression are balanced|"
        "converts a decimal number to binary|splits a list into chunks of a given size|"
        "returns the most common element in a list|removes all whitespace from a string|"
        "computes the factorial of a number recursively|finds the intersection of two arrays|"
        "compresses a string using run-length encoding|sorts a list of records by a given key|"
        "converts a sentence to title case|finds the missing number in a sequence from 1 to n|"
        "checks whether a number is a perfect square|transposes a matrix|"
        "calculates the average word length in a sentence|shuffles a deck of cards|"
        "parses a date string into day, month and year|formats a number with thousands separators|"
        "finds the longest word in a sentence|checks whether a sudoku row is valid|"
        "converts a hexadecimal color code to RGB values|calculates compound interest over n years|"
        "masks all but the last four digits of a credit card number|"
        "groups a list of words by their first letter|finds the kth smallest element in an array"
    ),
    "sql_task": _words(
        "returns the ten most recent orders for each customer|finds employees who earn more than their managers|"
        "counts how many books were published each year|lists customers who have never placed an order|"
        "calculates the average rating of each product|finds duplicate email addresses in the users table|"
        "returns the second highest salary|shows total sales by region and month|"
        "lists students enrolled in more than three courses|finds the longest-running subscription|"
        "deletes orders older than five years|ranks players by their total score|"
        "finds the busiest hour of the day|lists products that are out of stock|"
        "computes the monthly retention rate|finds the top three cities by revenue|"
        "returns customers who spent more than the average|counts active users per week|"
        "finds rooms that were never booked|lists authors with more than one bestseller"
    ),
    "db_context": _words(
        "an online bookstore|a hospital records system|a school enrollment system|a ride-sharing app|"
        "a library catalog|a podcast platform|a hotel booking system|an e-commerce store|"
        "a fitness tracking app|a payroll system|a food delivery service|a car rental company"
    ),
    "place": _words(
        "Tokyo|Paris|Cape Town|Buenos Aires|Reykjavik|Marrakech|Vancouver|Istanbul|Hanoi|Lisbon|"
        "Kyoto|New Orleans|Edinburgh|Seoul|Mexico City|Prague|Sydney|Nairobi|Barcelona|Singapore|"
        "Rome|Cairo|Montreal|Bangkok|Vienna|Lima|Dubrovnik|Copenhagen|Havana|Budapest|Oaxaca|"
        "Tbilisi|Queenstown|Cartagena"
    ),
    "event": _words(
        "a wedding|a job interview|a first date|a camping trip|a product launch|"
        "a surprise birthday party|a charity fundraiser|a family reunion|a neighborhood cleanup|"
        "a retirement party|a book club meeting|a science fair|a marathon|a team offsite|"
        "a baby shower|a housewarming party|a graduation ceremony|a conference talk|"
        "a school reunion|a holiday dinner|a farmers market stall|a hackathon|a garage sale|"
        "a museum visit|a volunteer training session|a chess tournament|a bake sale"
    ),
    "profession": _words(
        "nurse|teacher|data scientist|chef|firefighter|architect|librarian|pilot|electrician|"
        "journalist|veterinarian|accountant|park ranger|pharmacist|civil engineer|social worker|"
        "barista|dentist|translator|marine biologist|carpenter|flight attendant|lawyer|beekeeper|"
        "museum curator|personal trainer|air traffic controller|speech therapist|wedding planner|"
        "astronaut|plumber|zookeeper"
    ),
    "goal": _words(
        "learn a new language|save for retirement|run a marathon|get better sleep|reduce screen time|"
        "start a vegetable garden|pay off credit card debt|read more books|"
        "become a better public speaker|eat less sugar|learn to cook at home|"
        "make new friends in a new city|switch careers into tech|stay focused while working from home|"
        "build a daily exercise habit|declutter a small apartment|prepare for a job interview|"
        "learn to play chess|reduce household energy use|write a first novel|improve their handwriting|"
        "drink more water|wake up earlier|volunteer in the community|travel on a tight budget|"
        "keep a journal|stop procrastinating|learn basic car maintenance|grow a small online business|"
        "manage stress during exams|get promoted within a year|spend less time on the phone"
    ),
    "textkind": _words(
        "email|passage|sentence|product description|cover letter|text message|news headline|"
        "essay introduction|customer complaint|meeting summary|job posting|menu description|"
        "social media post|apology note|press release|thank-you note|recipe introduction|"
        "user manual excerpt|speech opening|book blurb|real estate listing|dating app bio"
    ),
    "doc_kind": _words(
        "news article|meeting transcript|email thread|research abstract|customer support chat|"
        "legal contract|recipe|travel itinerary|press release|job advertisement|medical note|"
        "podcast transcript|court ruling|company memo|product manual|biography|lecture transcript|"
        "annual report|city council minutes|museum exhibit description"
    ),
    "entity_type": _words(
        "date|person name|company name|location|email address|phone number|monetary amount|"
        "product name|ingredient|medication|book title|deadline|action item|technical term|"
        "job title|street address"
    ),
    "output_format": _words(
        "a bulleted list|a JSON array|a comma-separated list|a two-column table|"
        "a numbered list sorted alphabetically|a YAML list|a markdown table|"
        "short bullet points grouped by category"
    ),
    "summary_length": _words(
        "one sentence|three bullet points|under fifty words|two sentences|a short passage|"
        "five bullet points|a single tweet|plain language|twenty words|a headline and a subtitle"
    ),
    "concept_pair": _words(
        "a virus and a bacterium|weather and climate|stocks and bonds|a simile and a metaphor|"
        "speed and velocity|a crocodile and an alligator|affect and effect|an ocean and a sea|"
        "empathy and sympathy|a republic and a democracy|mass and weight|a comet and an asteroid|"
        "baking soda and baking powder|a hurricane and a tornado|memory and storage in a computer|"
        "a credit card and a debit card|machine learning and traditional programming|"
        "a psychologist and a psychiatrist|an alloy and a compound|latitude and longitude|"
        "a lake and a pond|frogs and toads|a recession and a depression|jam and jelly|"
        "a turtle and a tortoise|rugby and American football|a college and a university|"
        "an epidemic and a pandemic|renting and leasing|a fruit and a vegetable|"
        "nuclear fission and nuclear fusion|a sole proprietorship and a corporation"
    ),
    "mechanism": _words(
        "a refrigerator|the human heart|compound interest|a vaccine|a search engine|photosynthesis|"
        "a credit score|the electoral college|noise-cancelling headphones|a solar panel|"
        "a stock exchange|a microwave oven|human memory|satellite navigation|public key encryption|"
        "a hybrid car engine|an elevator|a nuclear reactor|the immune system|a thermostat|"
        "an airplane wing|a mortgage|a blockchain|a touchscreen|carbon dating|a lock and key|"
        "a heat pump|a sourdough starter|an espresso machine|a bicycle gear system"
    ),
    "explain_style": _words(
        "in simple terms|step by step|using an everyday analogy|in three sentences|"
        "without any jargon|as a short story|using a sports analogy|as a list of key points"
    ),
    "hist_event": _words(
        "the French Revolution|the fall of the Roman Empire|the Great Depression|"
        "the Industrial Revolution|World War I|the collapse of the Soviet Union|"
        "the Protestant Reformation|the 2008 financial crisis|the American Civil War|"
        "the Irish Potato Famine|the Dust Bowl|the Meiji Restoration|the Black Death|"
        "the partition of India|the fall of the Berlin Wall|the invention of the printing press|"
        "the California Gold Rush|the Space Race"
    ),
    "affected_group": _words(
        "ordinary workers|women|farmers|merchants|children|the middle class|neighboring countries|"
        "the arts|religious institutions|science and technology|global trade|city life"
    ),
    "phenomenon": _words(
        "cats purr|leaves change color in autumn|we dream|onions make people cry|"
        "airplanes leave white trails in the sky|some people get seasick|bubbles form in boiling water|"
        "stars twinkle|our ears pop on airplanes|bread go stale|birds fly south for the winter|"
        "we get goosebumps|ice float on water|people yawn when others yawn|"
        "fireflies glow|metal spoons feel colder than wooden ones|zebras have stripes|"
        "cuts itch when they heal|we have fingerprints|salmon swim upstream|"
        "clouds stay in the air|cats land on their feet|knuckles crack|fingers wrinkle in water|"
        "sunsets look orange"
    ),
    "person": _words(
        "Ada Lovelace|Nikola Tesla|Marie Curie|Mansa Musa|Frida Kahlo|Alan Turing|Hypatia|"
        "Ibn Battuta|Rosalind Franklin|Genghis Khan|Harriet Tubman|Leonardo da Vinci|"
        "Srinivasa Ramanujan|Cleopatra|Galileo Galilei|Wangari Maathai|Zheng He|Florence Nightingale|"
        "Confucius|Nelson Mandela|Grace Hopper|Charles Darwin|Hedy Lamarr|Simon Bolivar"
    ),
    "puzzle_kind": _words(
        "logic puzzle|riddle|word problem|number sequence puzzle|lateral thinking puzzle|"
        "scheduling puzzle|seating arrangement puzzle|probability brain teaser|cryptarithm|"
        "river crossing puzzle"
    ),
    "argument_kind": _words(
        "argument|advertisement claim|political speech excerpt|opinion column|debate rebuttal|"
        "sales pitch|forum comment|letter to the editor|product review|campaign slogan"
    ),
    "hypothetical": _words(
        "the moon disappeared overnight|humans no longer needed sleep|all the bees in the world vanished|"
        "the internet shut down for a month|everyone worked only four days a week|"
        "gravity were half as strong|cars were banned from all cities|nobody could tell a lie|"
        "it rained every day for a year|money were abolished|everyone spoke the same language|"
        "humans could photosynthesize|oil ran out tomorrow|the oceans froze solid"
    ),
    "affected": _words(
        "the economy|daily life|schools|the environment|family life|global politics|the food supply|"
        "sports|the job market|public health|tourism|the housing market"
    ),
    "fermi": _words(
        "how many piano tuners work in Chicago|how many tennis balls fit in a school bus|"
        "how much water a person drinks in a lifetime|how many words an average person speaks in a year|"
        "the number of heartbeats in a human lifetime|how many pizzas are eaten in New York every day|"
        "how many grains of rice fit in a bathtub|how long it would take to walk around the Earth|"
        "how many books a public library can hold|how many hairs are on a human head|"
        "how many bricks it takes to build a house|how many cups of coffee are sold in London each morning|"
        "how many dogs live in Paris|how much paper an office uses in a year|"
        "how many steps a mail carrier takes in a career|how many leaves grow on a large oak tree"
    ),
    "duration": _words("one-day|two-day|three-day|weekend|week-long|five-day|48-hour|ten-day"),
    "traveler": _words(
        "a family with two young children|a solo backpacker on a budget|"
        "a couple celebrating their anniversary|a group of college friends|a wheelchair user|"
        "a food lover|an elderly couple|a history enthusiast|a business traveler with one free day|"
        "an architecture fan|a vegetarian foodie|a first-time visitor who dislikes crowds|"
        "a marathon runner|a nature lover|a street food fan|a retired couple who love museums|"
        "a teenager and her grandmother|a remote worker staying for a month"
    ),
    "timeframe": _words("two-week|one-month|ten-day|six-week|three-month|weekend|90-day|semester-long"),
    "exam": _words(
        "the SAT|a driving test|a calculus final|a job interview at a bank|a citizenship test|"
        "a piano recital|a chemistry exam|a spelling bee|the bar exam|the GRE|a coding interview|"
        "a history quiz|a language proficiency test|a nursing licensure exam|a debate tournament"
    ),
    "diet_person": _words(
        "a college student|a family of four|a marathon runner|a retiree|a new mother|"
        "a night-shift nurse|a teenager|a construction worker|a busy lawyer|a couple in their eighties"
    ),
    "diet_constraint": _words(
        "is vegetarian|is allergic to nuts|wants to eat more protein|has a very small budget|"
        "cannot eat gluten|is trying to lower cholesterol|has only twenty minutes to cook each night|"
        "does not own an oven|is lactose intolerant|wants to reduce food waste|follows a halal diet|"
        "dislikes spicy food|is training for a triathlon|wants more fiber"
    ),
    "diy_project": _words(
        "build a raised garden bed|paint a bedroom|change a flat tire|set up a home aquarium|"
        "start a podcast|organize a closet|repot a houseplant|install a floating shelf|"
        "make homemade pasta|brew cold-brew coffee|train a puppy to sit|start composting at home|"
        "set up a household budget spreadsheet|learn to juggle|sharpen a kitchen knife|"
        "bake a loaf of sourdough bread|hang wallpaper|fix a leaky faucet|knit a scarf|"
        "build a birdhouse|unclog a kitchen sink|clean a cast-iron pan|set up a home network|"
        "prepare for a power outage|winterize a bicycle"
    ),
    "difficulty": _words(
        "a difficult coworker|stage fright|a sudden job loss|homesickness|burnout|writer's block|"
        "a noisy roommate|jet lag|a disagreement with a close friend|negative online comments|"
        "a fear of flying|rejection after a job interview|loneliness after moving|a tight deadline|"
        "a long commute|a micromanaging boss|a picky eater at home|test anxiety"
    ),
    "activity_ing": _words(
        "driving|studying|running|sleeping well|working from home|cooking dinner|hiking|saving money|"
        "taking notes|negotiating a salary|learning to swim|speaking in public|packing a suitcase|"
        "gardening|cycling to work|grocery shopping|meal prepping|writing emails"
    ),
    "condition": _words(
        "in the winter|on a tight budget|with small children|in a noisy apartment|after a long day|"
        "when you feel unmotivated|in a foreign country|during a heat wave|"
        "without any special equipment|at night|with limited time|during the holidays|"
        "with a bad back|in a tiny kitchen"
    ),
    "media_kind": _words(
        "books|podcasts|documentaries|online courses|board games|websites|novels|museums|"
        "newsletters|short stories"
    ),
    "business": _words(
        "a bakery that only sells gluten-free bread|an electric scooter rental company|"
        "a dog-walking service|a neighborhood bookstore|a mobile car wash|a vegan food truck|"
        "a language tutoring startup|a bike repair shop|a rooftop cinema|"
        "a plant-based ice cream brand|a coworking space for artists|a budget travel agency|"
        "a handmade candle shop|a solar panel installer|a children's science camp|"
        "a meal-prep delivery service|a secondhand clothing store|a family-run pizzeria|"
        "a pet grooming salon|a climbing gym|a local credit union|an organic coffee roaster|"
        "a home cleaning service|a board game cafe|a tax preparation firm|a yoga studio for seniors|"
        "a used textbook marketplace|a wedding cake bakery|a craft brewery|a robotics club for teens|"
        "a mountain cabin rental|a zero-waste grocery store|a mobile phone repair kiosk|"
        "an indoor herb garden kit|a sleep tracking app|a tutoring service for adults"
    ),
    "recipient": _words(
        "your landlord|a former colleague|your child's teacher|the customer support team|"
        "a potential investor|your neighbor|a hiring manager|the city council|your team|"
        "a conference organizer|your university professor|a new client|your gym|"
        "a local newspaper|your bank|a wedding venue|your insurance company|a software vendor"
    ),
    "situation": _words(
        "a delayed project deadline|a broken heating system|a billing error on the last invoice|"
        "why you missed the meeting|a change in the delivery schedule|a request for a day off|"
        "feedback on a recent presentation|a noise complaint|an upcoming price increase|"
        "a lost package|a proposal for a new recycling program|the results of a customer survey|"
        "a mistake in a published article|a request for a letter of recommendation|"
        "the cancellation of a membership|a leak in the bathroom ceiling|a double charge on a card|"
        "a request to extend a deadline"
    ),
    "toast_detail": _words(
        "a funny childhood memory|a lesson learned from failure|a shared love of hiking|"
        "a famous quote about friendship|the importance of teamwork|a memorable road trip|"
        "a favorite family recipe|the value of patience|an embarrassing but harmless story|"
        "a hope for the future|the first time you met|a running inside joke"
    ),
    "hobby": _words(
        "loves rock climbing|volunteers at an animal shelter|collects vintage typewriters|"
        "bakes bread every weekend|runs ultramarathons|speaks five languages|restores old furniture|"
        "writes science fiction in their spare time|grows rare orchids|teaches chess to children|"
        "builds model ships|travels by train whenever possible|keeps bees on a rooftop|"
        "competes in pie-eating contests|sails solo around islands"
    ),
    "reviewable": _words(
        "a neighborhood coffee shop|a budget airline flight|a hiking trail in the mountains|"
        "a science museum|a cooking class|a cheap pair of headphones|a rental apartment|"
        "a language learning app|a theme park|a local farmers market|a dentist's office|"
        "an online course about statistics|a sushi restaurant|a bus tour of the city|"
        "a beachside hotel|a secondhand bookstore|a new pair of hiking boots|a public swimming pool|"
        "a late-night diner|a meditation retreat"
    ),
    "claim": _words(
        "schools should start later in the morning|cities should ban cars from their centers|"
        "every student should learn to cook|public transport should be free|"
        "homework should be optional|companies should adopt a four-day work week|"
        "voting should be mandatory|museums should be free to visit|"
        "junk food advertising should be banned|every home should have a vegetable garden|"
        "children should learn a second language early|remote work beats office work|"
        "libraries matter more than ever|space exploration is worth the cost|"
        "plastic bags should be taxed|uniforms improve school culture|"
        "tipping should be replaced by higher wages|daylight saving time should end"
    ),
    "animal": _words(
        "a shy hedgehog|a curious octopus|a brave little mouse|a clumsy giraffe|a lonely penguin|"
        "a talkative parrot|a lazy cat|an ambitious snail|a forgetful elephant|a grumpy badger|"
        "a young dragon|a homesick whale|a nervous squirrel|a proud peacock"
    ),
    "animal_goal": _words(
        "wants to learn to fly|is afraid of the dark|dreams of visiting the city|"
        "loses its favorite hat|makes a new friend|enters a baking contest|learns to share|"
        "tries to find its way home|wants to become a chef|discovers a hidden garden|"
        "learns to swim|starts a school for birds|plans a surprise party|runs for mayor"
    ),
    "company_kind": _words(
        "a fast-growing startup|a large hospital|a public library|a nonprofit that fights hunger|"
        "an international airline|a small family business|a national park|"
        "a renewable energy company|a children's museum|a luxury hotel|a local newspaper|"
        "a research university|a city zoo|a global consulting firm|a community theater"
    ),
    "writer": _words(
        "a tired student|a non-native speaker|a busy executive|a ten-year-old|a new intern|"
        "an angry customer|a night-shift worker|a hurried journalist|a first-year teacher|"
        "an overexcited sports fan|a nervous job applicant|a retired sailor|a teenage blogger|"
        "a sleep-deprived parent|an enthusiastic volunteer"
    ),
    "voice_change": _words(
        "passive voice into active voice|the past tense into the present tense|"
        "third person into first person|formal language into plain everyday language|"
        "British English into American English|rough notes into full sentences|"
        "technical jargon into plain language|direct speech into reported speech|"
        "a negative framing into a positive one|long sentences into short ones"
    ),
    "grammar_item": _words(
        "adjectives|verbs in the past tense|proper nouns|prepositional phrases|passive constructions|"
        "run-on sentences|clichés|filler words|rhetorical questions|idioms|adverbs|"
        "spelling mistakes|dangling modifiers|comma splices"
    ),
    "notes_kind": _words(
        "meeting notes|lecture notes|bullet points|interview transcript|rough outline|list of facts|"
        "voice memo transcript|brainstorming notes|research notes|customer call notes"
    ),
    "output_doc": _words(
        "a formal report|a friendly newsletter|a short blog post|a to-do list with owners|"
        "an executive summary|a press release|a study guide|a slide outline|a FAQ section|"
        "a LinkedIn post|a thank-you email|a one-page handout"
    ),
    "argument_doc": _words(
        "op-ed|research abstract|policy proposal|debate speech|TED talk transcript|product pitch|"
        "grant application|court opinion|campaign speech|book review"
    ),
    "content_kind": _words(
        "a blog post|a podcast episode|a newsletter|a magazine article|a school presentation|"
        "a conference talk|a nonfiction book|a YouTube channel|a workshop|a radio segment"
    ),
    "pet": _words(
        "a fluffy white kitten|a lazy bulldog|a pet turtle|a goldfish|a rescue greyhound|"
        "a pair of hamsters|a talking parrot|a baby goat|a shy rabbit|a very large Great Dane"
    ),
    "name_theme": _words(
        "Greek mythology|famous scientists|desserts|the ocean|outer space|Shakespeare plays|"
        "the weather|spices|Norse legends|classic novels|gemstones|cheeses"
    ),
    "gift_person": _words(
        "a grandmother|a coworker|a teenage nephew|a best friend|a new neighbor|a college roommate|"
        "a father-in-law|a five-year-old|a teacher at the end of the school year|a retiring boss"
    ),
    "interest": _words(
        "gardening|astronomy|baking|rock climbing|board games|knitting|vintage cars|birdwatching|"
        "spicy food|camping|chess|poetry|yoga|woodworking|tea|science fiction novels|"
        "marathon running|houseplants|fishing|origami"
    ),
    "interviewer": _words(
        "a podcast host|a job recruiter|a school newspaper reporter|a curious child|"
        "a documentary filmmaker|a museum guide|a talk show host|a new coworker"
    ),
    "subject": _words(
        "chemistry|geometry|algebra|physics|biology|economics|geography|astronomy|statistics|"
        "grammar|nutrition|world history|probability|trigonometry"
    ),
    "unit_pair": _words(
        "miles to kilometers|pounds to kilograms|degrees Fahrenheit to degrees Celsius|"
        "cups to milliliters|feet to meters|hours to seconds|square meters to square feet|"
        "ounces to grams|gallons to liters|inches to centimeters|"
        "kilometers per hour to meters per second|days to minutes|acres to hectares"
    ),
    "quantity": tuple(str(n) for n in range(3, 240, 3)),
    "coef": tuple(str(n) for n in range(2, 13)),
    "const": tuple(str(n) for n in range(1, 60)),
    # no value ends in "16": "= 116." would trip the client's "16." stop string
    "rhs": tuple(str(n) for n in range(20, 140) if n % 100 != 16),
    "quantity_kind": _words(
        "test scores|daily temperatures|monthly expenses|race times|house prices|rainfall measurements|"
        "book lengths in pages|student heights|commute times|order totals|electricity bills|"
        "weekly step counts"
    ),
    "stat": _words(
        "mean|median|mode|range|standard deviation|geometric mean|variance|interquartile range"
    ),
    "precision": _words(
        "the nearest whole number|two decimal places|one decimal place|the nearest ten|"
        "three significant figures"
    ),
    "word_limit": _words(
        "under twenty words|a single sentence|fifty words or fewer|three bullet points|"
        "two sentences|half its current length|a tweet-length summary|one short line"
    ),
    "role": _words(
        "a volunteer|a busy parent|an office manager|a student council president|a first-time host|"
        "a small nonprofit|a retired engineer|a college club"
    ),
    "scene": _words(
        "a rainy train station|a crowded night market|an abandoned lighthouse|a small mountain village|"
        "a busy hospital waiting room|a quiet library at closing time|a desert highway at dawn|"
        "a snowed-in cabin|a floating city|a submarine kitchen|a school bus on the last day of school|"
        "a space station greenhouse"
    ),
    "character": _words(
        "a retired detective|a nervous robot|a grandmother who speaks to birds|a teenage inventor|"
        "a tired street juggler|a lost tourist|a ghost who hates noise|a very honest politician|"
        "a baker with a secret|a lighthouse keeper|a dog who can read|a time-traveling librarian"
    ),
    "issue": _words(
        "a personal attack|sarcasm|a spelling mistake|a factual claim|a request for help|a question|"
        "a complaint|an offer to sell something|a deadline|medical advice|a threat|an apology|"
        "a compliment|a promise"
    ),
    "diet": _words("vegan|gluten-free|keto|low-sodium|nut-free|vegetarian|halal|dairy-free|paleo"),
    "recipe_kind": _words(
        "recipe|ingredient list|restaurant dish description|meal plan|snack idea|lunch order"
    ),
    "exercise_kind": _words(
        "math problem|chess puzzle|hiking route description|recipe|crossword clue|coding exercise|"
        "yoga pose description|trivia question|knitting pattern|climbing route"
    ),
    "review_kind": _words(
        "restaurant review|hotel review|product review|movie review|app store review|book review|"
        "customer comment about a laptop|tweet about a new phone|comment on a cooking blog|"
        "feedback form entry|airline complaint|theater review|survey response|post about a concert|"
        "review of a dentist|comment about a delivery driver|forum post about a car|"
        "review of a language course|note left for a landlord|tweet about a sports game|"
        "message about a hotel breakfast|review of a phone charger|comment on a travel blog|"
        "complaint about a gym|review of a museum tour"
    ),
    "sentence_kind": _words(
        "sentence|customer message|headline|text message|comment|line of dialogue|tweet|slogan|"
        "email subject line|product tagline"
    ),
    "ticket_kind": _words(
        "support ticket|customer email|live chat message|voicemail transcript|complaint form|"
        "help desk request|chatbot transcript"
    ),
    "news_kind": _words(
        "news headline|article summary|blog title|podcast episode title|magazine cover line|"
        "press release title|newsletter subject line"
    ),
    "query_kind": _words(
        "search query|chatbot message|voice assistant command|customer question|website search|"
        "app store search|travel site search|bank chatbot message|pharmacy hotline question|"
        "smart speaker request|online shop question|airline chatbot message"
    ),
    "fin_kind": _words(
        "transaction|expense|purchase|bank statement line|receipt|credit card charge"
    ),
    "relation": _words(
        "contradicts|paraphrases|follows logically from|answers|summarizes|is a translation of"
    ),
    "claim_source": _words(
        "news|advertising|political|scientific|historical|health|sports|financial|travel"
    ),
    "pair_kind": _words("pair of sentences|pair of headlines|pair of product titles|pair of questions"),
}

# --------------------------------------------------------------------------
# Label sets for classification templates.
# --------------------------------------------------------------------------


def _ls(labels: str, noun: str = "", nouns: str = "") -> LabelSet:
    return LabelSet(tuple(_words(labels)), noun, nouns)


SENTIMENT = (
    _ls("positive|negative"), _ls("positive|negative|neutral"), _ls("positive|negative|mixed"),
    _ls("favorable|unfavorable"), _ls("satisfied|neutral|dissatisfied"),
    _ls("happy|angry|disappointed"), _ls("enthusiastic|lukewarm|hostile"), _ls("praise|complaint|suggestion"),
    _ls("recommend|do not recommend"),
)
CATEGORY = (
    _ls("mammal|bird|reptile|amphibian|fish", "animal", "animals"),
    _ls("fruit|vegetable|grain|dairy", "food item", "food items"),
    _ls("team sport|individual sport", "sport", "sports"),
    _ls("land|water|air", "vehicle", "vehicles"),
    _ls("healthcare|education|technology|finance", "job title", "job titles"),
    _ls("fiction|nonfiction", "book title", "book titles"),
    _ls("metal|nonmetal|metalloid", "chemical element", "chemical elements"),
    _ls("Europe|Asia|Africa|the Americas|Oceania", "country", "countries"),
    _ls("noun|verb|adjective|adverb", "word", "words"),
    _ls("renewable|nonrenewable", "energy source", "energy sources"),
    _ls("rocky planet|gas giant|ice giant", "planet", "planets"),
    _ls("alcoholic|non-alcoholic", "beverage", "beverages"),
    _ls("prime|composite", "number", "numbers"),
    _ls("compiled|interpreted", "programming language", "programming languages"),
    _ls("religious|secular", "holiday", "holidays"),
    _ls("tree|shrub|herb|vine", "plant", "plants"),
    _ls("spam|not spam", "email", "emails"),
    _ls("igneous|sedimentary|metamorphic", "rock", "rocks"),
    _ls("string|woodwind|brass|percussion", "instrument", "instruments"),
    _ls("predator|prey|both", "animal", "animals"),
    _ls("herbivore|carnivore|omnivore", "animal", "animals"),
    _ls("solid|liquid|gas", "substance at room temperature", "substances at room temperature"),
    _ls("conductor|insulator", "material", "materials"),
    _ls("ancient|medieval|modern", "historical figure", "historical figures"),
    _ls("hot|temperate|cold", "climate zone", "climate zones"),
    _ls("appetizer|main course|dessert", "dish", "dishes"),
    _ls("input device|output device|storage device", "computer part", "computer parts"),
    _ls("insect|arachnid|crustacean", "creature", "creatures"),
    _ls("acid|base|neutral", "household liquid", "household liquids"),
    _ls("mountain|river|desert|island", "landmark", "landmarks"),
    _ls("comedy|drama|horror|documentary", "film title", "film titles"),
    _ls("poem|novel|play|essay", "literary work", "literary works"),
    _ls("indoor|outdoor", "hobby", "hobbies"),
    _ls("citrus|berry|stone fruit|tropical", "fruit", "fruits"),
    _ls("vowel|consonant", "letter", "letters"),
    _ls("even|odd", "number", "numbers"),
)
FORM = (
    _ls("grammatically correct|grammatically incorrect"), _ls("formal|informal"),
    _ls("literal|figurative"), _ls("a question|a statement|a command|an exclamation"),
    _ls("active voice|passive voice"), _ls("sarcastic|sincere"), _ls("polite|rude"),
    _ls("optimistic|pessimistic"), _ls("fact|opinion"), _ls("clear|ambiguous"),
    _ls("British English|American English"), _ls("child-friendly|adult"), _ls("humorous|serious"),
)
TRUTH = (
    _ls("true|false"), _ls("fact|opinion"), _ls("accurate|misleading|unverifiable"),
    _ls("plausible|implausible"), _ls("supported|unsupported"), _ls("correct|incorrect|partly correct"),
    _ls("myth|fact"), _ls("exaggerated|accurate|understated"),
)
DEPARTMENT = (
    _ls("billing|technical support|sales|shipping"), _ls("hardware|software|network|accounts"),
    _ls("returns|delivery|payments|product questions"), _ls("urgent|normal|low priority"),
    _ls("facilities|IT|human resources|finance"), _ls("legal|marketing|engineering"),
    _ls("front desk|housekeeping|kitchen|maintenance"), _ls("pharmacy|nursing|billing|appointments"),
)
NEWS_TOPIC = (
    _ls("politics|sports|technology|entertainment"), _ls("business|science|health|world news"),
    _ls("local|national|international"), _ls("climate|economy|education|crime"),
    _ls("travel|food|fashion|lifestyle"), _ls("opinion|report|interview"), _ls("good news|bad news|neutral"),
    _ls("arts|science|sport|finance|weather"),
)
EMOTION = (
    _ls("joy|sadness|anger|fear|surprise"), _ls("excited|anxious|bored|content"),
    _ls("grateful|frustrated|hopeful|indifferent"), _ls("calm|stressed|angry"),
    _ls("love|disgust|fear|joy"), _ls("proud|ashamed|relieved"), _ls("curious|confused|confident"),
    _ls("nostalgic|amused|annoyed|neutral"), _ls("trusting|suspicious"), _ls("lonely|loved|ignored"),
)
INTENT = (
    _ls("informational|navigational|transactional"), _ls("booking|cancellation|complaint|question"),
    _ls("buy|compare|research"), _ls("greeting|request|complaint|feedback"),
    _ls("order status|refund|product info|other"), _ls("urgent|routine"),
    _ls("schedule|cancel|reschedule|ask a question"),
)
PAIR = (_ls("yes|no"), _ls("true|false"), _ls("entailment|contradiction|neutral"), _ls("same|different"))
DIFFICULTY = (_ls("easy|medium|hard"), _ls("beginner|intermediate|advanced"), _ls("easy|hard"))
SPENDING = (
    _ls("food|transport|housing|entertainment|utilities"), _ls("necessary|discretionary"),
    _ls("business|personal"), _ls("recurring|one-time"), _ls("essential|nice to have|wasteful"),
)
YES_NO = ("Yes", "No")
STARS = ("1", "2", "3", "4", "5")


def T(family: str, *patterns: str, takes_input: bool = False, labels: tuple[str, ...] = (),
      labelsets: tuple[LabelSet, ...] = ()) -> tuple[Template, ...]:
    """One task idea in several phrasings (each phrasing is its own template)."""
    return tuple(Template(family, p, takes_input, labels, labelsets) for p in patterns)


_IN = {"takes_input": True}

_TEMPLATE_GROUPS: tuple[tuple[Template, ...], ...] = (
    # writing
    T("writing", "[Write|Compose] a {tone} {genre} about {topic}.",
      "Give me a {genre} on {topic} with a {tone} feel."),
    T("writing", "Write a {genre} about {object} set in {scene}.",
      "Tell a {story_genre} in which {object} turns up in {scene}."),
    T("writing", "[Draft|Write] a {tone} email to {recipient} about {situation}.",
      "Help me tell {recipient} about {situation} in a {tone} message."),
    T("writing", "Create a catchy slogan for {business}.",
      "Invent a tagline that {business} could use in {content_kind}.",
      "Suggest a {tone} motto for {business}."),
    T("writing", "Write a product description for {object} aimed at {audience}.",
      "Describe {object} so that {audience} would want to buy it."),
    T("writing", "Open a {story_genre} set in {place} with {character}.",
      "Begin a {story_genre} whose hero is a {profession} from {place}."),
    T("writing", "Compose a toast for {event} that mentions {toast_detail}.",
      "Help me mention {toast_detail} in my remarks at {event}."),
    T("writing", "Write a short bio for a {profession} who {hobby}.",
      "Introduce a {profession} who {hobby} in a few {tone} sentences."),
    T("writing", "Write a {tone} review of {reviewable}.",
      "Pretend you visited {reviewable} with {traveler} and review it."),
    T("writing", "Write a {number}-line poem about {topic} for {audience}.",
      "Turn {topic} into a {number}-stanza rhyme."),
    T("writing", "Write a dialogue between a {profession} and a {profession2} about {topic}.",
      "Imagine a {profession} arguing with a {profession2} over {claim}; script their conversation."),
    T("writing", "Write a persuasive argument that {claim}.",
      "Convince {audience} that {claim}.",
      "Argue against the idea that {claim}, in a {tone} voice."),
    T("writing", "Write a children's story about {animal} who {animal_goal}.",
      "Outline a children's book in which {animal} {animal_goal}."),
    T("writing", "Draft a cover letter from a {profession} who {hobby} to {company_kind}.",
      "Write a {tone} motivation letter from a {profession} to {company_kind}."),
    T("writing", "Tell a story about {character} stuck in {scene}.",
      "Describe {event} from the point of view of {character}."),
    T("writing", "Write a {tone} speech for {event} about {topic}.",
      "Prepare remarks on {topic} that a {profession} could give at {event}."),
    # rewriting (input)
    T("rewriting", "Rewrite the following {textkind} in a {tone} tone for {audience}.",
      "Adapt this {textkind} for {audience}, making it {quality}.", **_IN),
    T("rewriting", "Paraphrase this {textkind} so that {audience} could understand it.",
      "Simplify the {textkind} below for {audience}.", **_IN),
    T("rewriting", "Translate this {textkind} from {language} to {language2}.",
      "Render the following {language} {textkind} in {language2}, keeping its {tone} tone.", **_IN),
    T("rewriting", "Shorten the {textkind} below to {word_limit} for {audience}.",
      "Cut this {textkind} down to {word_limit}.", **_IN),
    T("rewriting", "Correct the grammar in this {textkind} written by {writer}.",
      "Proofread the following {textkind}; the author is {writer}.", **_IN),
    T("rewriting", "Convert the following {textkind} from {voice_change}.",
      "Change this {textkind} from {voice_change} without losing detail.", **_IN),
    T("rewriting", "Make the following {textkind} more {quality} for {audience}.",
      "Polish this {textkind} so it sounds {quality} and {tone}.", **_IN),
    T("rewriting", "Turn these {notes_kind} into {output_doc} for {audience}.",
      "Using the {notes_kind} below, draft {output_doc}.", **_IN),
    # extraction and summarization (input)
    T("extraction", "From the following {doc_kind}, extract every {entity_type} as {output_format}.",
      "Pull each {entity_type} out of this {doc_kind}.",
      "List every {entity_type} that appears in the {doc_kind} below, formatted as {output_format}.",
      **_IN),
    T("summarization", "Summarize this {doc_kind} in {summary_length} for {audience}.",
      "Give {audience} the gist of the following {doc_kind}.",
      "Condense the {doc_kind} below into {summary_length}.", **_IN),
    T("writing", "Suggest a headline for this {doc_kind} aimed at {audience}.",
      "Title the following {doc_kind} in a {tone} way.", **_IN),
    T("extraction",
      "Identify the main claim of this {argument_doc} about {topic} and list {number} pieces of evidence.",
      "What is this {argument_doc} about {topic} really arguing?", **_IN),
    T("qa", "Write {number} quiz questions about this {doc_kind} for {audience}.",
      "Test {audience} on the following {doc_kind} with {number} multiple-choice items.", **_IN),
    T("extraction", "Underline the {grammar_item} in this {textkind} by {writer}.",
      "Spot all {grammar_item} in the {textkind} below.", **_IN),
    T("extraction", "List the deadlines in this {doc_kind} from {company_kind}.",
      "Who is mentioned in this {doc_kind} about {topic}?", **_IN),
    # QA
    T("qa", "Explain the difference between {concept_pair} to {audience}.",
      "How would you tell {concept_pair} apart? Answer {explain_style}."),
    T("qa", "Explain how {mechanism} works {explain_style}.",
      "What actually happens inside {mechanism}? Tell {audience}."),
    T("qa", "What [caused|led to] {hist_event}, and how did it affect {affected_group}?",
      "Describe the long-term consequences of {hist_event} for {affected_group}."),
    T("qa", "Why do {phenomenon}? Explain it to {audience}.",
      "A child asks why {phenomenon}. Give an answer {explain_style}."),
    T("qa", "Summarize the life of {person} in {number} sentences for {audience}.",
      "Why should {audience} know about {person}?"),
    T("qa", "[Answer|Solve|Work through] this {subject} [question|problem|exercise] for {audience}.",
      "Explain the answer to this {subject} homework {explain_style}.", **_IN),
    T("qa", "Describe a typical workday of a {profession} who {hobby}.",
      "Which skills would {audience} need to become a {profession}?"),
    T("qa", "Using only this {doc_kind}, answer the question from {audience}.",
      "Based on this {doc_kind}, what should {audience} do next?", **_IN),
    T("writing", "Write a {tone} reply to the {textkind} below from {recipient}.",
      "Continue the following {story_genre} opening for {number} more sentences.", **_IN),
    T("extraction", "Turn the following {doc_kind} into {output_format} of key facts for {audience}.",
      "Suggest {number} improvements for {business} based on this feedback.", **_IN),
    T("qa", "Look at the following {quantity_kind} and describe the trend to {audience}.",
      "What would a {profession} question in this {doc_kind} from {company_kind}?", **_IN),
    T("coding", "Optimize the following {prog_lang} {code_unit} that {coding_task}.",
      "Explain this {prog_lang} error to {audience}.", **_IN),
    T("planning", "Given the budget below, plan {event} for {audience}.",
      "Fit time to {goal} into this weekly schedule of a {profession}.", **_IN),
    T("reasoning", "Use the clues below to decide whether {character} left {object} in {scene}.",
      "From the timeline below, explain {situation} to {recipient}.", **_IN),
    # reasoning
    T("reasoning", "Solve the following {puzzle_kind} and explain your reasoning to {audience}.",
      "Here is a {puzzle_kind} for {audience}; find the answer {explain_style}.", **_IN),
    T("reasoning",
      "[Identify|Point out|Find] the [logical fallacy|flaw in reasoning|weak assumption] "
      "in this {argument_kind} about {topic}.",
      "Critique the logic of this {argument_kind} about {topic}.", **_IN),
    T("reasoning", "If {hypothetical}, what would happen to {affected}?",
      "Imagine {hypothetical}. Predict {number} consequences for {affected}."),
    T("reasoning", "Estimate {fermi} and show your reasoning.",
      "Make a rough guess at {fermi}, explaining it to {audience}."),
    T("reasoning", "Compare {concept_pair} in a table for {audience}.",
      "Which is more important for {audience}: understanding {topic} or {topic2}? Defend your view."),
    T("reasoning", "Which of these witnesses to {situation} in {scene} is lying?",
      "Order these events from {hist_event} for {audience}.", **_IN),
    # math
    T("math", "Solve for x: {coef}x + {const} = {rhs}.",
      "Estimate the monthly grocery bill of {diet_person} who {diet_constraint}."),
    T("math", "Given these {quantity_kind}, [compute|find|work out] the {stat} to {precision}.",
      "What is the {stat} of these {quantity_kind} from {place}?", **_IN),
    T("math", "Convert {quantity} {unit_pair} and explain the conversion to {audience}.",
      "Show {audience} how to turn {quantity} {unit_pair}."),
    T("math", "Explain how to calculate the {stat} of {quantity_kind} to {audience}.",
      "Work out a {timeframe} savings target for {audience} who wants to {goal}."),
    # coding
    T("coding", "Write a {prog_lang} function that {coding_task}.",
      "Implement something in {prog_lang} that {coding_task}.",
      "How would you write code that {coding_task}? Use {prog_lang}."),
    T("coding", "[Find and fix|Spot] the bug in this {prog_lang} {code_unit} that {coding_task}.",
      "Why does this {prog_lang} {code_unit} fail when it {coding_task}?", **_IN),
    T("coding", "Write a SQL query for {db_context} that {sql_task}.",
      "Given the schema of {db_context}, produce SQL that {sql_task}."),
    T("coding", "Explain what this {prog_lang} {code_unit} does to {audience}.",
      "Add helpful comments for {audience} to the {prog_lang} {code_unit} below.", **_IN),
    T("coding", "Write unit tests in {prog_lang} for a {code_unit} that {coding_task}.",
      "What edge cases should tests cover for code that {coding_task}?"),
    T("coding", "Rewrite the following {prog_lang} {code_unit} in {prog_lang2}.",
      "Port this {code_unit} from {prog_lang} to {prog_lang2} and note any differences.", **_IN),
    T("coding", "List the risks of deploying this {prog_lang} {code_unit} to {db_context}.",
      "Rename the variables in this {prog_lang} {code_unit} so {audience} can follow it.", **_IN),
    # planning
    T("planning", "Plan a {duration} itinerary in {place} for {traveler}.",
      "What should {traveler} see on a {duration} trip to {place}?"),
    T("planning", "Create a {timeframe} study plan for {audience} preparing for {exam}.",
      "How should {audience} prepare for {exam} over a {timeframe} period?"),
    T("planning", "Suggest a weekly meal plan for {diet_person} who {diet_constraint}.",
      "What could {diet_person} cook this week if they {diet_constraint}?"),
    T("planning", "Outline the steps {audience} should follow to {diy_project}.",
      "Walk {audience} through how to {diy_project}.",
      "What tools and materials do I need to {diy_project} {condition}?"),
    T("planning", "Create a {timeframe} plan to help {audience} {goal}.",
      "Design a {timeframe} challenge for anyone who wants to {goal}."),
    T("planning", "List what {role} must do to organize {event} in {place}.",
      "What should {role} take care of before {event}?"),
    T("planning", "Schedule these tasks over a {timeframe} period for a {profession} who {hobby}.",
      "Prioritize the following tasks for a {profession} {condition}.", **_IN),
    # brainstorming
    T("brainstorming", "Brainstorm {number} [creative|unusual|memorable] names for {business}.",
      "What could we call {business}? Offer {number} options."),
    T("brainstorming", "List {number} ways {audience} could {goal}.",
      "Propose {number} small habits that help people {goal}."),
    T("brainstorming", "Suggest {number} [fun|creative|low-cost] activities for {event} in {place}.",
      "How can we make {event} memorable for {audience}?"),
    T("brainstorming", "Suggest {number} gift ideas for {gift_person} who [loves|is into] {interest}.",
      "What should I buy {gift_person} who enjoys {interest}?"),
    T("brainstorming", "Brainstorm {number} questions {interviewer} could ask a {profession}.",
      "Prepare an interview with a {profession} about {topic}."),
    T("brainstorming", "Think of {number} unexpected uses for {object} {condition}.",
      "Besides its usual purpose, how could {object} help {audience}?"),
    T("brainstorming", "Generate {number} title ideas for {content_kind} about {topic}.",
      "Pitch {content_kind} on {topic} aimed at {audience}."),
    T("brainstorming", "Suggest {number} names for {pet} inspired by {name_theme}.",
      "Name {pet} after something from {name_theme}."),
    # advice
    T("advice", "What advice would you give {audience} who wants to {goal}?",
      "My friend is {audience} hoping to {goal}. Any tips?"),
    T("advice", "How can {audience} [deal with|cope with|handle] {difficulty}?",
      "How does a {profession} get through {difficulty}?"),
    T("advice", "Give [some|practical] tips for {activity_ing} {condition}.",
      "How do I keep {activity_ing} manageable {condition}?"),
    T("advice", "As a {profession}, how can I {goal}?",
      "I work as a {profession} in {place}. How could I {goal}?"),
    T("advice", "Recommend {number} {media_kind} for {audience} interested in {topic}.",
      "Where should {audience} start learning about {topic}?"),
    T("advice", "Suggest a {tone} reply to this message from {writer} about {situation}.",
      "Someone sent me the {textkind} below. How should I respond {condition}?", **_IN),
    T("advice", "List {number} questions a {profession} should ask about this {doc_kind}.",
      "What in this {doc_kind} might confuse {audience}?", **_IN),
    # classification (input)
    T("classification", "Classify the following {review_kind} as {labels}.",
      "Is this {review_kind} {labels}?", **_IN, labelsets=SENTIMENT),
    T("classification", "Decide whether this {claim_source} statement from {writer} is {labels}.",
      "Here is a claim about {topic}. Label it {labels}.", **_IN, labelsets=TRUTH),
    T("classification", "Identify which category the following {noun} belongs to: {labels}.",
      "Given a {noun}, classify it as {labels}.",
      "For each of the following {nouns}, say whether it is {labels}.",
      "Sort each of these {nouns} into {labels}.",
      "Tag every {noun} in the list below with one of: {labels}.", **_IN, labelsets=CATEGORY),
    T("classification", "Does the following {textkind} from {writer} contain {issue}?",
      "Check whether this {sentence_kind} includes {issue}.", **_IN, labels=YES_NO),
    T("classification", "Determine whether the following {sentence_kind} is {labels}.",
      "Would you call this {textkind} from {writer} {labels}?", **_IN, labelsets=FORM),
    T("classification", "Route the following {ticket_kind} to the right team: {labels}.",
      "Which queue should handle this {ticket_kind} ({labels})?", **_IN, labelsets=DEPARTMENT),
    T("classification", "Classify this {news_kind} from {place} into one of these topics: {labels}.",
      "Where would an editor put this {news_kind} about {topic}: {labels}?", **_IN, labelsets=NEWS_TOPIC),
    T("classification", "Given a {pair_kind} about {topic}, say whether the second {relation} the first: {labels}.",
      "Compare the two {textkind}s below: does one {relation} the other ({labels})?", **_IN, labelsets=PAIR),
    T("classification", "Which emotion, {labels}, fits this {review_kind}?",
      "Detect the feeling behind the {textkind} below from {writer}: {labels}.", **_IN, labelsets=EMOTION),
    T("classification", "Classify the user intent behind this {query_kind} as {labels}.",
      "What does the person typing this {query_kind} want: {labels}?", **_IN, labelsets=INTENT),
    T("classification", "Does this {recipe_kind} from {place} fit a {diet} diet?",
      "Can {diet_person} on a {diet} diet eat this {recipe_kind}?", **_IN, labels=YES_NO),
    T("classification", "Predict the 1-5 star rating of this {review_kind} from {writer}.",
      "Guess the star rating (1-5) {writer} gave in this {review_kind}.", **_IN, labels=STARS),
    T("classification", "Rate the difficulty of the following {exercise_kind} for {audience} as {labels}.",
      "Would {audience} find this {exercise_kind} {labels}?", **_IN, labelsets=DIFFICULTY),
    T("classification", "Categorize the following {fin_kind} as {labels}.",
      "Is this {fin_kind} from {place} {labels}?", **_IN, labelsets=SPENDING),
    T("classification", "Was this {textkind} written by {writer}? Answer yes or no.",
      "Tell whether the following {textkind} is about {topic}.", **_IN, labels=YES_NO),
    T("classification", "Tell whether the following {sentence_kind} about {topic} is {labels}.",
      "Is this claim about {hist_event} {labels}?", **_IN, labelsets=TRUTH),
    T("classification", "Label this {review_kind} as {labels}, considering only what it says about {topic}.",
      "Judge the tone of this {review_kind} of {reviewable}: {labels}.", **_IN, labelsets=SENTIMENT),
)

TEMPLATES: tuple[Template, ...] = tuple(t for group in _TEMPLATE_GROUPS for t in group)
_CLASSIFICATION = tuple(t for t in TEMPLATES if t.is_classification)
_OTHER = tuple(t for t in TEMPLATES if not t.is_classification)

# Optional constraints appended to an instruction, as chat models often do;
# they also keep same-template instructions apart under ROUGE-L.
TAIL_RATE = 0.65
TAILS: dict[str, tuple[str, ...]] = {
    "writing": _words(
        "Keep it under 150 words.|Include a surprising twist at the end.|Use at least one metaphor.|"
        "Avoid clichés.|End with a question for the reader.|Make it suitable for reading aloud.|"
        "Use vivid sensory details.|Give it a memorable title.|"
        "Keep the language simple enough for children.|Do not use the word very.|"
        "Mention a specific smell or sound.|Write it from an unusual point of view.|"
        "Start in the middle of the action.|Let the ending stay open.|"
        "Include one line of dialogue.|Aim for a warm, hopeful mood.|Avoid any exclamation marks.|"
        "Limit yourself to five sentences.|Weave in a local tradition.|Make the first sentence a hook."
    ),
    "rewriting": _words(
        "Preserve all the key facts.|Do not change the meaning.|Keep roughly the same length.|"
        "Point out what you changed and why.|Avoid jargon.|Keep any names and numbers unchanged.|"
        "Use short sentences.|Keep the original formatting.|Remove any repetition.|"
        "Make the call to action clearer.|Keep it gender-neutral.|Drop anything that sounds rude.|"
        "Fix punctuation along the way.|Prefer everyday words over formal ones.|"
        "Keep the author's voice recognizable.|Mark uncertain phrases with brackets."
    ),
    "extraction": _words(
        "Ignore duplicates.|Keep them in order of appearance.|Say none if nothing is found.|"
        "Include the sentence each one came from.|Normalize spelling where needed.|"
        "Skip anything that is only implied.|Count how often each appears.|"
        "Flag anything that looks like a typo.|Do not invent missing details.|"
        "Group related items together.|Quote the original wording exactly.|"
        "Add a one-line note on anything ambiguous."
    ),
    "summarization": _words(
        "Focus on decisions and next steps.|Leave out minor details.|Keep the original tone.|"
        "Mention who is responsible for what.|Do not add opinions.|Highlight any deadlines.|"
        "Start with the most important point.|Avoid technical terms.|"
        "End with one open question.|Note anything that seems contradictory."
    ),
    "qa": _words(
        "Use an example from everyday life.|Keep the answer under 100 words.|"
        "Mention one common misconception.|Cite at least one historical example.|"
        "Avoid technical vocabulary.|End with a fun fact.|Use a simple comparison.|"
        "Keep it to one short passage.|Say what scientists still do not know.|"
        "Point out why it matters today.|Give a concrete number where possible.|"
        "Separate facts from speculation.|Check your answer at the end.|"
        "Suggest one follow-up question.|Keep each sentence short."
    ),
    "reasoning": _words(
        "Think through it step by step.|State any assumptions you make.|"
        "Give a final answer on its own line.|Consider at least two possibilities.|"
        "Point out where your estimate could be wrong.|Keep the reasoning under 150 words.|"
        "Explain which clue matters most.|Round numbers to keep the math easy.|"
        "Say how confident you are.|Compare the best and worst cases."
    ),
    "math": _words(
        "Show every step.|Check the result by substitution.|Explain each step in words.|"
        "Round the final answer sensibly.|State the formula you use first.|"
        "Give the answer with units.|Point out a common mistake students make.|"
        "Use fractions rather than decimals where possible.|Estimate first, then compute exactly."
    ),
    "coding": _words(
        "Include comments explaining each step.|Handle empty input gracefully.|"
        "State the time complexity.|Add a short usage example.|Avoid external libraries.|"
        "Make it work for very large inputs.|Use descriptive variable names.|"
        "Write it in an idiomatic style.|Add type annotations where the language allows.|"
        "Raise a clear error on invalid input.|Keep it under twenty lines.|"
        "Explain one edge case you considered.|Prefer readability over cleverness.|"
        "Do not modify the input in place.|Include two test cases."
    ),
    "planning": _words(
        "Include a rough budget.|Account for bad weather.|Leave room for one rest day.|"
        "Prioritize free activities.|Put the most important tasks first.|"
        "Estimate how long each step takes.|Note what to buy in advance.|"
        "Keep mornings light.|Mention one thing to avoid.|Suggest a backup option for each day.|"
        "Assume public transport only.|Make it realistic for a beginner.|"
        "Add a short checklist at the end.|Keep the whole plan on one page."
    ),
    "brainstorming": _words(
        "Make each one different in style.|Explain each idea in one sentence.|"
        "Include at least one unusual option.|Avoid anything expensive.|"
        "Rank them from most to least practical.|Keep each suggestion short.|"
        "Aim for ideas a child would enjoy.|Avoid obvious choices.|Mark your favorite.|"
        "Say who each idea would suit best.|Mix serious and playful ideas."
    ),
    "advice": _words(
        "Be honest but kind.|Give concrete first steps.|Mention one mistake to avoid.|"
        "Keep it practical.|Suggest something to try this week.|Consider a limited budget.|"
        "Keep it under 120 words.|Be specific rather than general.|"
        "Include one encouraging remark.|Point out when to ask a professional.|"
        "Offer two alternatives.|Avoid sounding preachy."
    ),
    "classification": _words(
        "Explain your choice in one sentence.|If unsure, say so.|Output only the label.|"
        "Give a confidence score as well.|Point out the words that decided it.|"
        "Answer with the label first, then a reason.|Treat sarcasm carefully.|"
        "Do not guess when the text is unclear.|Use exactly one of the given labels.|"
        "Note any case that could fit two labels."
    ),
}

# Instructions that need a modality an LLM lacks (the paper's keyword filter).
KEYWORD_TEMPLATES: tuple[Template, ...] = T(
    "keyword",
    "Draw a picture of {object} in {scene}.",
    "Plot a graph of the {quantity_kind} over the past {number} years.",
    "Create a map of the best {interest} spots in {place}.",
    "Look at the attached image of {object} and describe its colors.",
    "Go to the {db_context} website and summarize the top {number} reviews.",
    "Open the attached file and count how many rows mention {topic}.",
    "Sort the pictures in this folder into photos of {interest} and everything else.",
    "Generate images of {animal} in the style of a {genre}.",
    "Draw {object} using only straight lines.",
    "Make a graph showing how {topic} changed over time.",
    "Read all the files in the shared drive and list the ones about {topic}.",
    "Find {place} on a map and describe the route from the airport.",
)

SHORT_INSTRUCTIONS: tuple[str, ...] = (
    "Summarize this.", "Tell jokes.", "Write poetry.", "Explain gravity.", "Translate this.",
    "Be creative.", "List animals.", "Describe love.", "Define happiness.", "Give advice.",
    "Name colors.", "Solve riddles.", "Tell a story.", "Continue.", "Help me.", "Rhyme words.",
    "Explain taxes.", "Count primes.", "Compare cities.", "Describe autumn.",
)

BAD_START_TEMPLATES: tuple[Template, ...] = T(
    "coding", "Write a program that {coding_task}.", "Write a program in {prog_lang} that {coding_task}."
)

FOREIGN_INSTRUCTIONS: tuple[str, ...] = (
    "¿Cómo se prepara una tortilla española?",
    "¿Puedes explicar la fotosíntesis a un niño?",
    "¿Cuál es la diferencia entre ser y estar?",
    "Écris un court poème sur la mer.",
    "Élaborez un plan de voyage pour Lyon.",
    "Übersetze diesen Satz ins Englische.",
    "Ücretsiz bir tatil planı yap.",
)

# Prefixes a chat model sometimes leaves in front of an instruction.
BAD_PREFIXES: tuple[str, ...] = ("- ", "• ", "* ", "\"", "(Optional) ", "... ", "–  ")

# Small synonym table for near-copies: a one-word change keeps ROUGE-L high.
_SYNONYMS: dict[str, str] = {
    "give": "provide", "write": "compose", "list": "name", "explain": "describe",
    "short": "brief", "make": "create", "find": "identify", "good": "great",
    "tell": "say", "create": "make", "generate": "produce", "suggest": "propose",
    "describe": "explain", "identify": "find", "the": "this", "a": "one", "some": "several",
    "best": "top", "help": "assist", "use": "employ", "show": "demonstrate",
    "three": "four", "five": "six", "different": "distinct", "simple": "easy",
}
_INSERTIONS: tuple[str, ...] = ("briefly", "carefully", "quickly", "clearly", "simply", "really")


# --------------------------------------------------------------------------
# Rendering and sampling.
# --------------------------------------------------------------------------

_TOKEN = re.compile(r"\{(\w+)\}|\[([^\]]*)\]")
_ARTICLE = re.compile(r"(?:^|\s)[Aa] $")


def _slot_values(name: str) -> tuple[str, ...]:
    """Values of a slot; trailing digits make an independent alias."""
    return SLOTS[name.rstrip("0123456789")]


def _join_labels(labels: tuple[str, ...]) -> str:
    """Render a label list the way people write it in an instruction."""
    if len(labels) == 1:
        return labels[0]
    if len(labels) == 2:
        return f"{labels[0]} or {labels[1]}"
    return ", ".join(labels[:-1]) + f", or {labels[-1]}"


def _vowel_sound(word: str) -> bool:
    """Rough English rule: 'an' before a vowel sound ('an urgent', 'a unit')."""
    lower = word.lower()
    return lower[:1] in "aeio" or (lower[:1] == "u" and not lower.startswith(("uni", "use", "usu")))


def _fix_article(literal: str, value: str) -> str:
    """Turn a template's trailing 'a ' into 'an ' before a vowel-initial value."""
    if _ARTICLE.search(literal) and _vowel_sound(value):
        return literal[:-1] + "n "
    return literal


def _render(template: Template, rng: random.Random) -> SyntheticTask:
    """Fill one template with random slot values."""
    labelset = rng.choice(template.labelsets) if template.labelsets else None
    labels = labelset.labels if labelset else template.labels

    def fill(match: re.Match[str]) -> str:
        slot, alternatives = match.group(1), match.group(2)
        if alternatives is not None:
            return rng.choice(alternatives.split("|"))
        if slot == "labels" and labelset:
            return _join_labels(labelset.labels)
        if slot in ("noun", "nouns") and labelset:
            return getattr(labelset, slot)
        return rng.choice(_slot_values(slot))

    out: list[str] = []
    pos = 0
    for match in _TOKEN.finditer(template.pattern):
        literal, value = template.pattern[pos:match.start()], fill(match)
        out += [_fix_article(literal, value), value]
        pos = match.end()
    text = "".join(out) + template.pattern[pos:]
    tails = TAILS.get(template.family, ())
    if tails and rng.random() < TAIL_RATE:
        text = f"{text} {rng.choice(tails)}"
    return SyntheticTask(text, template.is_classification, labels, template.takes_input, template.family)


def sample_task(rng: random.Random, classification_share: float | None = None) -> SyntheticTask:
    """Draw one clean instruction; classification_share overrides the default mix."""
    share = CLASSIFICATION_SHARE if classification_share is None else classification_share
    pool = _CLASSIFICATION if rng.random() < share else _OTHER
    return _render(rng.choice(pool), rng)


def keyword_instruction(rng: random.Random) -> str:
    """An instruction needing a modality the paper's keyword filter rejects."""
    return _render(rng.choice(KEYWORD_TEMPLATES), rng).instruction


def short_instruction(rng: random.Random) -> str:
    """A 1-3 word instruction (the paper drops these by length)."""
    return rng.choice(SHORT_INSTRUCTIONS)


def bad_start_instruction(rng: random.Random) -> str:
    """An instruction starting with punctuation, a non-ASCII letter or 'Write a program'."""
    style = rng.randrange(3)
    if style == 0:
        return _render(rng.choice(BAD_START_TEMPLATES), rng).instruction
    if style == 1:
        return rng.choice(FOREIGN_INSTRUCTIONS)
    prefix = rng.choice(BAD_PREFIXES)
    text = sample_task(rng).instruction
    return f"{prefix}{text}\"" if prefix == "\"" else prefix + text


def _one_word_change(words: list[str], rng: random.Random) -> list[str]:
    """Swap a word for a synonym if possible, else insert an adverb."""
    candidates = [i for i, w in enumerate(words) if w.lower().strip(".,?!:;") in _SYNONYMS]
    if candidates:
        i = rng.choice(candidates)
        core = words[i].strip(".,?!:;")
        swap = _SYNONYMS[core.lower()]
        swap = swap.capitalize() if core[:1].isupper() else swap
        return words[:i] + [words[i].replace(core, swap, 1)] + words[i + 1:]
    i = rng.randrange(1, len(words)) if len(words) > 1 else 1
    return words[:i] + [rng.choice(_INSERTIONS)] + words[i:]


def near_copy(instruction: str, rng: random.Random) -> str:
    """Change one or two words so ROUGE-L against the original stays above 0.7."""
    words = instruction.split()
    if not words:
        return instruction
    for changes in (rng.choice((1, 2)), 1):
        edited = words
        for _ in range(changes):
            edited = _one_word_change(edited, rng)
        text = " ".join(edited)
        if text != instruction and rouge_l(text, instruction) > 0.7:
            return text
    return instruction.rstrip(".") + "!"  # one-word demo: only punctuation changes


# --------------------------------------------------------------------------
# Recovering metadata from text.
# --------------------------------------------------------------------------


def _alternation(values: list[str]) -> str:
    return "|".join(re.escape(v) for v in sorted(set(values), key=len, reverse=True))


def _compile(template: Template) -> re.Pattern[str]:
    """Turn a template into a regex with one named group per slot."""
    parts: list[str] = []
    pos = 0
    pattern = template.pattern.rstrip(".?!")
    sets = template.labelsets
    for m in _TOKEN.finditer(pattern):
        literal = pattern[pos:m.start()]
        if _ARTICLE.search(literal):
            parts.append(re.escape(literal[:-2]) + "an? ")
        else:
            parts.append(re.escape(literal))
        slot, alternatives = m.group(1), m.group(2)
        if alternatives is not None:
            values = alternatives.split("|")
        elif slot == "labels" and sets:
            values = [_join_labels(s.labels) for s in sets]
        elif slot in ("noun", "nouns") and sets:
            values = [getattr(s, slot) for s in sets]
        else:
            values = list(_slot_values(slot))
        group = f"(?P<{slot}>" if alternatives is None else "(?:"
        parts.append(f"{group}{_alternation(values)})")
        pos = m.end()
    parts.append(re.escape(pattern[pos:]) + r"[.?!]?")
    tails = [t.rstrip(".?!") for t in TAILS.get(template.family, ())]
    if tails:
        parts.append(f"(?: (?:{_alternation(tails)})[.?!]?)?")
    return re.compile("".join(parts), re.IGNORECASE)


@cache
def _compiled() -> tuple[tuple[Template, re.Pattern[str]], ...]:
    every = TEMPLATES + KEYWORD_TEMPLATES + BAD_START_TEMPLATES
    return tuple((t, _compile(t)) for t in every)


def _labels_for(template: Template, match: re.Match[str]) -> tuple[str, ...] | None:
    """Pick the label set consistent with the matched noun and label text."""
    if not template.labelsets:
        return template.labels
    found = match.groupdict()
    for s in template.labelsets:
        if "labels" in found and found["labels"].lower() != _join_labels(s.labels).lower():
            continue
        if any(k in found and found[k].lower() != getattr(s, k).lower() for k in ("noun", "nouns")):
            continue
        return s.labels
    return None


def task_for(instruction: str) -> SyntheticTask | None:
    """Metadata of an instruction this grammar could have produced, else None."""
    text = " ".join(instruction.split())
    if not text:
        return None
    for short in SHORT_INSTRUCTIONS:
        if text.lower() == short.lower():
            return SyntheticTask(text, False, (), False, "short")
    candidates = [text, text.lstrip("-•*\"'.–( ").removeprefix("Optional) ").rstrip("\"'")]
    for candidate in dict.fromkeys(candidates):
        for template, regex in _compiled():
            match = regex.fullmatch(candidate)
            labels = _labels_for(template, match) if match else None
            if match and labels is not None:
                return SyntheticTask(text, template.is_classification, labels,
                                     template.takes_input, template.family)
    return None


class SyntheticGenerator:
    """A seeded stream of clean synthetic tasks (handy for tests and demos)."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)

    def task(self, classification_share: float | None = None) -> SyntheticTask:
        return sample_task(self._rng, classification_share)

    def tasks(self, n: int) -> list[SyntheticTask]:
        return [self.task() for _ in range(n)]

    def instructions(self, n: int) -> list[str]:
        return [t.instruction for t in self.tasks(n)]
