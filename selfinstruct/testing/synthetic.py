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
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from selfinstruct.filters.rouge import rouge_l

__all__ = [
    "BANNED_KEYWORDS",
    "LabelSet",
    "SyntheticGenerator",
    "SyntheticInstance",
    "SyntheticTask",
    "Template",
    "bad_start_instruction",
    "describe",
    "input_for_label",
    "keyword_instruction",
    "labels_in",
    "looks_like_classification",
    "looks_like_it_takes_input",
    "make_instance",
    "near_copy",
    "other_output",
    "recover_near_copy",
    "sample_task",
    "short_instruction",
    "task_for",
    "task_slots",
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


def _match(text: str) -> tuple[Template, tuple[str, ...], dict[str, str]] | None:
    """The template, labels and slot values an instruction was rendered from."""
    candidates = [text, text.lstrip("-•*\"'.–( ").removeprefix("Optional) ").rstrip("\"'")]
    for candidate in dict.fromkeys(candidates):
        for template, regex in _compiled():
            match = regex.fullmatch(candidate)
            labels = _labels_for(template, match) if match else None
            if match and labels is not None:
                slots = {k: v for k, v in match.groupdict().items() if v is not None}
                return template, labels, slots
    return None


def task_for(instruction: str) -> SyntheticTask | None:
    """Metadata of an instruction this grammar could have produced, else None."""
    text = " ".join(instruction.split())
    if not text:
        return None
    for short in SHORT_INSTRUCTIONS:
        if text.lower() == short.lower():
            return SyntheticTask(text, False, (), False, "short")
    found = _match(text)
    if found is None:
        return None
    template, labels, _ = found
    return SyntheticTask(text, template.is_classification, labels, template.takes_input, template.family)


def task_slots(instruction: str) -> dict[str, str]:
    """Slot values (topic, prog_lang, ...) of a grammar instruction, so answers can fit it."""
    text = " ".join(instruction.split())
    found = _match(text) if text else None
    return found[2] if found else {}


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


# --------------------------------------------------------------------------
# Describing any instruction: the grammar, near-copies, then keyword cues.
# --------------------------------------------------------------------------

_REVERSE_SYNONYMS: dict[str, tuple[str, ...]] = {
    target: tuple(k for k, v in _SYNONYMS.items() if v == target) for target in set(_SYNONYMS.values())
}
_EDGE_PUNCT = ".,?!:;"


def _undo_one_edit(words: list[str]) -> list[list[str]]:
    """Every way to revert one near_copy edit: drop an inserted adverb or swap a synonym back."""
    out: list[list[str]] = []
    for i, word in enumerate(words):
        core = word.strip(_EDGE_PUNCT)
        if core.lower() in _INSERTIONS and word == core:
            out.append(words[:i] + words[i + 1:])
        for original in _REVERSE_SYNONYMS.get(core.lower(), ()):
            swap = original.capitalize() if core[:1].isupper() else original
            out.append(words[:i] + [word.replace(core, swap, 1)] + words[i + 1:])
    return out


def recover_near_copy(instruction: str) -> SyntheticTask | None:
    """Metadata of the grammar instruction a near_copy (one or two edits) came from."""
    text = " ".join(instruction.split())
    if text.endswith("!") and (task := task_for(text[:-1] + ".")):
        return SyntheticTask(text, task.is_classification, task.labels, task.takes_input, task.family)
    frontier = [text.split()]
    for _ in range(2):
        frontier = [edited for words in frontier for edited in _undo_one_edit(words)]
        for words in frontier:
            task = task_for(" ".join(words))
            if task is not None:
                return SyntheticTask(text, task.is_classification, task.labels, task.takes_input, task.family)
    return None


# Keyword cues for instructions the grammar does not know (seed tasks, their near-copies).
_CLASSIFICATION_CUES = re.compile(
    r"\b(classif\w*|categor\w*|label\w*|which of|true or false|yes or no|positive or negative|"
    r"positive, negative|spam|sentiment|tag\w*|sort each|route|decide whether|determine whether|"
    r"tell whether|say whether|fact or (?:an )?opinion|formal or informal|star rating|choose (?:one|from)|"
    r"answer (?:yes|valid|with one)|reply with (?:yes|its letter)|part of speech|asking for a fact|"
    r"which (?:emotion|queue|team|category|language|continent|word does not|programming language)|"
    r"programming language used|rate the (?:difficulty|urgency|strength)|what does the person typing|intent|"
    r"judge the tone|where would an editor|would you call|detect the feeling)\b|\b(?:one of|options):",
    re.IGNORECASE)
_NOT_CLASSIFICATION_CUES = re.compile(
    r"\b(unit tests|why does|witnesses|extract every|list every|bullet points|write|compose|"
    r"explain|summari[sz]e|translate|brainstorm)\b", re.IGNORECASE)
_LABEL_LIST = re.compile(
    r"(?:^|[:(]|\b(?:as|either|one of|from|with|into|be|is it|answer|find this [\w -]+?|call this [\w -]+?))\s+"
    r"((?:[\w'/-]+(?: [\w'/-]+){0,2}, )*[\w'/-]+(?: [\w'/-]+){0,2},? or [\w'/-]+(?: [\w'/-]+){0,2})"
    r"\s*[.?!)]*(?:\s|$)", re.IGNORECASE)
_INPUT_CUES = re.compile(
    r"\b(given|following|below|this|these|passage|text|sentence|snippet|paragraph)\b", re.IGNORECASE)


def labels_in(instruction: str) -> tuple[str, ...]:
    """Labels spelled out as 'a, b, or c' in an instruction (the last such list), else ()."""
    found = _LABEL_LIST.findall(instruction)
    if not found:
        return ()
    items = re.split(r",? or |, ", found[-1])
    labels = tuple(dict.fromkeys(i.strip() for i in items if i.strip()))
    return labels if len(labels) >= 2 else ()


def looks_like_classification(instruction: str) -> bool:
    """Keyword guess: asks for a label from a small fixed set."""
    if _CLASSIFICATION_CUES.search(instruction):
        return True
    return bool(labels_in(instruction)) and not _NOT_CLASSIFICATION_CUES.search(instruction)


def looks_like_it_takes_input(instruction: str) -> bool:
    """Keyword guess: refers to a text it expects to be given."""
    return bool(_INPUT_CUES.search(instruction))


def describe(instruction: str) -> SyntheticTask:
    """Best-known metadata of any instruction: grammar lookup, near-copy recovery, keyword cues."""
    text = " ".join(instruction.split())
    known = task_for(text) or recover_near_copy(text)
    if known is not None:
        return known
    classification = looks_like_classification(text)
    labels = (labels_in(text) or YES_NO) if classification else ()
    takes_input = looks_like_it_takes_input(text)
    return SyntheticTask(text, classification, labels, takes_input, "unknown")


# --------------------------------------------------------------------------
# Instances: plausible (not correct) inputs and outputs for any instruction.
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class SyntheticInstance:
    """One example of a task; input is '' when the task takes none."""

    input: str
    output: str


def _year(rng: random.Random) -> str:
    return str(rng.choice((2015, 2017, 2018, 2019, 2021, 2022, 2023)))


def _date(rng: random.Random) -> str:
    months = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")
    return f"{rng.randint(2, 28)} {rng.choice(months)} {_year(rng)}"


# Extra vocabulary for answers; each draws a fresh value per instance.
_EXTRA: dict[str, tuple[str, ...] | Callable[[random.Random], str]] = {
    "name": _words(
        "Maya Fernandes|Peter Holm|Lucia Ortega|Daniel Kim|Amara Okafor|Tomasz Nowak|Hannah Berg|"
        "Ravi Menon|Sofia Rossi|Kenji Watanabe|Grace Mensah|Omar Haddad|Elena Petrova|Lucas Martin|"
        "Aisha Bello|Jonas Weber|Priya Nair|Carlos Mendes|Ingrid Solberg|Samuel Osei"),
    "weekday": _words("Monday|Tuesday|Wednesday|Thursday|Friday"),
    "time": _words("9 am|10:30 am|noon|2 pm|3:15 pm|4 pm|5:30 pm"),
    "medication": _words("ibuprofen|amoxicillin|metformin|loratadine|omeprazole|paracetamol"),
    "product": _words("the Aero 3 kettle|the TrailMax backpack|the Lumo desk lamp|the Volta e-bike|"
                      "the Pixel Buds|the CloudStep sneakers"),
    "street": _words("14 Harbour Road|221 Elm Street|7 Rue des Lilas|58 Kingsway|3 Mill Lane"),
    "date": _date,
    "year": _year,
    "pct": lambda rng: str(rng.randint(12, 87)),
    "n": lambda rng: str(rng.randint(3, 9)),
    "big": lambda rng: f"{rng.randint(2, 48) * 25:,}",
    "amount": lambda rng: f"${rng.randint(3, 95) * 25:,}",
    "email": lambda rng: f"{rng.choice(('info', 'sales', 'hr', 'events', 'support'))}@"
                         f"{rng.choice(('northwind', 'bluepeak', 'greenfield', 'harbor'))}.example.com",
    "phone": lambda rng: f"+1 555 {rng.randint(100, 999)} {rng.randint(1000, 9999)}",
}
_FILL = re.compile(r"\{(\w+)\}")


class _Vocab(dict[str, str]):
    """Slot values for one answer: the instruction's own, else drawn once and reused."""

    def __init__(self, rng: random.Random, slots: dict[str, str]) -> None:
        super().__init__(slots)
        self.rng = rng

    def __missing__(self, key: str) -> str:
        if key[:1].isupper():
            value = self[key[0].lower() + key[1:]]
            return value[:1].upper() + value[1:]
        base = key.rstrip("0123456789")
        source = _EXTRA.get(base) or SLOTS.get(base)
        if source is None:
            raise KeyError(key)
        value = source(self.rng) if callable(source) else self.rng.choice(source)
        self[key] = value
        return value

    def fill(self, pattern: str) -> str:
        """Replace {slot} markers; anything else in braces (code) is left alone."""
        def one(match: re.Match[str]) -> str:
            try:
                return self[match.group(1)]
            except KeyError:
                return match.group(0)
        return _FILL.sub(one, pattern)

    def pick(self, bank: tuple[str, ...]) -> str:
        return self.fill(self.rng.choice(bank))

    def sample(self, bank: tuple[str, ...], k: int, ordered: bool = False) -> list[str]:
        """k distinct entries, shuffled or (ordered) in bank order, e.g. Day 1 before Day 2."""
        picked = self.rng.sample(range(len(bank)), min(k, len(bank)))
        return [self.fill(bank[i]) for i in (sorted(picked) if ordered else picked)]


def _lines(items: list[str], style: str = "numbered") -> str:
    if style == "numbered":
        return "\n".join(f"{i}. {item}" for i, item in enumerate(items, 1))
    return "\n".join(f"- {item}" for item in items)


def _count(v: _Vocab, low: int = 3, high: int = 5) -> int:
    """How many list items: the instruction's {number} when it names one, capped for brevity."""
    words = {"three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "ten": 10}
    return min(words.get(v.get("number", ""), v.rng.randint(low, high)), 7)


# --- shared text banks -------------------------------------------------------

NEWS_SENTENCES: tuple[str, ...] = (
    "{Topic} has been a regular subject of debate in {place} this year.",
    "Researchers at {company_kind} say interest in the subject has grown steadily since {year}.",
    "A {profession} interviewed for this piece described the change as slow at first, then sudden.",
    "Supporters argue it will benefit {affected_group}, while critics point to the cost.",
    "A survey of {big} residents found that {pct} percent had changed their habits as a result.",
    "The city council is expected to publish its final report on {date}.",
    "Local groups have organized {n} public meetings to discuss the next steps.",
    "{Name}, who has followed the issue for years, says the debate is far from over.",
    "The pilot program cost about {amount} and ran for {n} months.",
    "Officials said the first results would be shared with the public before the end of the year.",
)
EXPLAIN_SENTENCES: tuple[str, ...] = (
    "The key idea is simpler than it sounds: it all comes down to how energy and information move.",
    "Think of it like a kitchen during a dinner rush, where every station depends on the one before it.",
    "A common misconception is that it happens all at once; in reality it is a gradual process.",
    "Scientists first described it in detail in the nineteenth century, and the basic picture still holds.",
    "In everyday life you can see the same effect when you leave a cold drink out on a warm day.",
    "The most important factor is balance: too much or too little of one part and the whole system changes.",
    "It matters today because it shapes decisions that families, companies and governments make every year.",
    "There are still open questions, but most experts agree on the main mechanism.",
    "Put simply, small causes add up over time into large, visible effects.",
)
ADVICE_SENTENCES: tuple[str, ...] = (
    "Start small: pick one habit you can keep for two weeks before adding another.",
    "Write down a clear goal and a date, and tell one person about it so you stay accountable.",
    "Expect setbacks; missing a day is normal, so plan how you will restart the next morning.",
    "Track your progress in a simple notebook rather than a complicated app.",
    "Ask someone who has done it before what they wish they had known at the start.",
    "Protect a fixed time slot in your calendar, ideally at the same time every day.",
    "Reward yourself for consistency, not perfection.",
    "If it still feels overwhelming after a month, it is worth talking to a professional.",
)
STORY_SENTENCES: tuple[str, ...] = (
    "Nobody in {place} expected the morning to end the way it did.",
    "{Character} had spent years avoiding {scene}, but today there was no choice.",
    "The rain had stopped, and for a moment everything smelled of wet stone and coffee.",
    "Then {object} appeared on the doorstep, wrapped in brown paper and tied with string.",
    "\"We have until sunset,\" {name} whispered, checking the old map for the third time.",
    "It was not the ending anyone had planned, but it was the one they needed.",
    "Somewhere a dog barked, and the spell was broken.",
    "By the time the bells rang, the secret was out.",
)
POEM_LINES: tuple[str, ...] = (
    "Soft light spills over {place}", "the kettle hums a patient tune", "we count the hours in rain",
    "old roads remember every step", "a paper boat drifts toward the sea",
    "the city breathes beneath the snow", "small seeds dream of summer", "the clock forgets to hurry",
    "laughter rolls across the hill", "we carry {topic} like a lantern", "the tide returns what it borrowed",
    "one more page, one more morning",
)
GENERIC_TEXTS: tuple[str, ...] = (
    "The new schedule starts on {weekday}, so please check the updated times before you travel.",
    "Our team finished the project two weeks early and under budget.",
    "I tried the recipe last night and the sauce came out much thinner than expected.",
    "The library will stay open until {time} during the exam period.",
    "{Name} said the meeting was moved to {weekday} because half the team is travelling.",
    "The package arrived on time, but the box was damaged on one side.",
    "Prices for fresh vegetables rose by {pct} percent over the last year.",
    "Could you send me the slides from yesterday's presentation?",
)
CASUAL_FORMAL: tuple[tuple[str, str], ...] = (
    ("hey, can't make the {time} meeting, something came up. can we move it?",
     "Hello, unfortunately I am unable to attend the {time} meeting due to an unexpected matter. "
     "Could we reschedule?"),
    ("thx for the help yesterday, u really saved me with that report",
     "Thank you for your help yesterday; your support with the report was invaluable."),
    ("the printer's broken again, someone pls fix it before friday",
     "The printer is out of order again. Could someone please arrange a repair before Friday?"),
    ("gonna be late, traffic is crazy, start without me",
     "I will be arriving late because of heavy traffic. Please begin without me."),
    ("we need the numbers asap or the whole launch slips",
     "We need the figures as soon as possible; otherwise the launch date will be delayed."),
    ("loved the talk!! any chance u could share the slides?",
     "I greatly enjoyed your talk. Would you be willing to share the slides?"),
    ("your invoice is wrong, you charged us twice, fix it",
     "It appears that our latest invoice includes a duplicate charge. Could you please correct it?"),
)
GRAMMAR_PAIRS: tuple[tuple[str, str], ...] = (
    ("Me and my freind was planing to go to the beach, but it rained alot.",
     "My friend and I were planning to go to the beach, but it rained a lot."),
    ("Their going to announce the results tomorow, weather we like it or not.",
     "They're going to announce the results tomorrow, whether we like it or not."),
    ("The team have finished there work and is ready for the next step.",
     "The team has finished its work and is ready for the next step."),
    ("She don't know where the keys is, she looked everywhere.",
     "She doesn't know where the keys are; she looked everywhere."),
    ("Each of the students have brought they're own lunch.",
     "Each of the students has brought their own lunch."),
)
TRANSLATIONS: tuple[dict[str, str], ...] = (
    {
        "English": "The library closes at eight in the evening.",
        "French": "La bibliothèque ferme à huit heures du soir.",
        "Spanish": "La biblioteca cierra a las ocho de la tarde.",
        "German": "Die Bibliothek schließt um acht Uhr abends.",
        "Italian": "La biblioteca chiude alle otto di sera.",
        "Portuguese": "A biblioteca fecha às oito da noite.",
    },
    {
        "English": "Could you tell me where the train station is?",
        "French": "Pourriez-vous me dire où est la gare ?",
        "Spanish": "¿Podría decirme dónde está la estación de tren?",
        "German": "Können Sie mir sagen, wo der Bahnhof ist?",
        "Italian": "Potrebbe dirmi dov'è la stazione?",
        "Portuguese": "Pode dizer-me onde fica a estação de comboios?",
    },
    {
        "English": "We are very happy with the new apartment.",
        "French": "Nous sommes très contents du nouvel appartement.",
        "Spanish": "Estamos muy contentos con el nuevo piso.",
        "German": "Wir sind mit der neuen Wohnung sehr zufrieden.",
        "Italian": "Siamo molto contenti del nuovo appartamento.",
        "Portuguese": "Estamos muito contentes com o novo apartamento.",
    },
    {
        "English": "Please send me the report before Friday.",
        "French": "Merci de m'envoyer le rapport avant vendredi.",
        "Spanish": "Por favor, envíame el informe antes del viernes.",
        "German": "Bitte schick mir den Bericht vor Freitag.",
        "Italian": "Per favore, mandami il rapporto prima di venerdì.",
        "Portuguese": "Por favor, envia-me o relatório antes de sexta-feira.",
    },
)
REFUSALS: tuple[str, ...] = (
    "I'm sorry, but as a text-based assistant I can't create or view visual or audio content. "
    "I can describe it in words instead if that helps.",
    "I can't open files, browse websites or produce pictures. If you paste the text here, I'm happy to help with it.",
    "As a language model I have no access to attachments or the web, so I can't do this directly. "
    "Here is a short written description instead: it would show the main points clearly, "
    "with labels in plain language.",
)


# --- labelled inputs for classification tasks ---------------------------------

def _bank(**labels: str) -> dict[str, tuple[str, ...]]:
    return {k.replace("_", " "): _words(v) for k, v in labels.items()}


LABEL_TEXTS: dict[str, tuple[str, ...]] = {
    **_bank(
        positive="Absolutely loved it. The staff were friendly and everything arrived on time.|"
                 "Best purchase I've made this year; it works perfectly and looks great.",
        negative="Terrible experience. It broke after two days and nobody answered my emails.|"
                 "Overpriced, slow and noisy. I would not go back.",
        neutral="It does what it says. Nothing special, nothing wrong.|"
                "Delivery took four days, which is about what the website said.",
        mixed="The food was excellent, but we waited almost an hour for a table.",
        favorable="A thoughtful, well-made option that I would happily choose again.",
        unfavorable="Disappointing from start to finish; the quality is not worth the price.",
        satisfied="Everything went smoothly and the support team solved my question in minutes.",
        dissatisfied="I had to call three times and the problem is still not fixed.",
        happy="What a lovely surprise, the whole evening made me smile!",
        angry="This is the third time my order is wrong and I am furious.",
        disappointed="I expected so much more after all the great reviews.",
        enthusiastic="Wow, I can't stop talking about it - everyone should try this!",
        lukewarm="It was fine, I guess. I probably won't think about it again.",
        hostile="Whoever designed this should be ashamed. Complete garbage.",
        praise="The nurse on the night shift was incredibly kind to my father.",
        complaint="The heating in room 12 has not worked for a week.",
        suggestion="It would be great if the app let us export our data as a spreadsheet.",
        recommend="I'd send any friend here without hesitation.",
        do_not_recommend="Save your money and look elsewhere.",
        grammatically_correct="She has lived in the city for ten years.",
        grammatically_incorrect="Me and him goes to the store yesterday.",
        formal="We regret to inform you that your application was not successful.",
        informal="lol that movie was wild, we gotta see it again",
        literal="The cat is sleeping on the warm windowsill.",
        figurative="My inbox is a bottomless pit this week.",
        a_question="Could you send me the agenda for tomorrow?",
        a_statement="The museum opens at ten on weekdays.",
        a_command="Close the door behind you when you leave.",
        an_exclamation="What a beautiful sunset!",
        active_voice="The committee approved the new budget.",
        passive_voice="The new budget was approved by the committee.",
        sarcastic="Oh great, another Monday morning meeting. Just what I needed.",
        sincere="Thank you so much for staying late to help me finish.",
        polite="Would you mind lowering the music a little after ten? Thank you!",
        rude="Turn that noise down or I'm calling the landlord.",
        optimistic="Sales dipped this quarter, but the new product line should turn things around.",
        pessimistic="Nothing we try ever works, so why bother with another plan?",
        fact="Water boils at 100 degrees Celsius at sea level.|"
             "Mount Everest is the highest mountain above sea level.",
        opinion="Summer is the best season for a city break.|Hiking is the most rewarding way to spend a weekend.",
        clear="The meeting starts at 3 pm in room 204.",
        ambiguous="I saw the man with the telescope.",
        british_english="We queued for ages outside the theatre before the lorry moved.",
        american_english="We stood in line for an hour outside the theater before the truck moved.",
        child_friendly="The little turtle made a new friend at the pond and they shared a snack.",
        adult="The detective poured another whiskey and reread the coroner's report.",
        humorous="My houseplant has filed a formal complaint about my watering schedule.",
        serious="The report outlines the risks of delaying the bridge repairs.",
        true="The Pacific is the largest ocean on Earth.",
        false="The Great Wall of China is easily visible from the Moon with the naked eye.",
        accurate="Vaccines train the immune system to recognize specific germs.",
        misleading="Eating carrots will give you perfect night vision.",
        unverifiable="The ancient king secretly preferred tea to wine.",
        plausible="The bakery sells out of croissants by nine on Saturdays.",
        implausible="The student read all of Wikipedia over the weekend.",
        supported="According to the survey of 2,000 people, most commuters prefer trains.",
        unsupported="Everyone knows remote workers are lazier.",
        correct="Photosynthesis turns light energy into chemical energy.",
        incorrect="The Sun orbits the Earth once a day.",
        partly_correct="Bats are blind and use echolocation to hunt.",
        myth="Goldfish only have a three-second memory.",
        exaggerated="This diet will make you lose ten kilos in a week.",
        understated="The 1906 earthquake caused a few problems in San Francisco.",
        billing="Hi, I was charged twice for my subscription this month.",
        technical_support="The app crashes every time I try to upload a photo.",
        sales="Do you offer discounts for teams of more than fifty people?",
        shipping="My package was supposed to arrive on Monday and the tracking has not moved.",
        hardware="The laptop fan is making a grinding noise.",
        software="Excel freezes whenever I open the quarterly spreadsheet.",
        network="The office wifi keeps dropping every few minutes.",
        accounts="I can't reset my password; the link in the email has expired.",
        returns="The shoes are too small. How do I send them back?",
        delivery="Can the courier leave the parcel with my neighbour?",
        payments="My card was declined although I have enough money in the account.",
        product_questions="Is this jacket waterproof or just water-resistant?",
        urgent="The server room is flooding - please send someone now!",
        normal="Please update the contact list when you have a moment.",
        low_priority="Some day it would be nice to repaint the break room.",
        routine="What are your opening hours on Saturday?",
        facilities="The elevator on the third floor is out of order.",
        it="My VPN connection fails since this morning's update.",
        human_resources="How many vacation days do I have left this year?",
        finance="When will last month's expense claims be reimbursed?",
        legal="Can we use this photo in our brochure without permission?",
        marketing="Who is preparing the posts for the product launch?",
        engineering="The build fails on the main branch after yesterday's merge.",
        front_desk="Could I get a late checkout tomorrow?",
        housekeeping="We need two extra towels in room 418.",
        kitchen="Is the soup of the day gluten-free?",
        maintenance="The shower in my room has no hot water.",
        pharmacy="Is my prescription for blood pressure tablets ready?",
        nursing="My mother needs help getting out of bed this morning.",
        appointments="I'd like to move my check-up to next Thursday.",
        politics="Parliament passes the new housing bill after a late-night vote",
        sports="Striker scores twice as the home side wins the derby",
        technology="Chipmaker unveils a faster, cooler processor for laptops",
        entertainment="Director's new film breaks opening-weekend records",
        business="Local bakery chain expands to five new cities",
        science="Astronomers spot water vapour on a distant planet",
        health="New study links short walks after meals to better sleep",
        world_news="Leaders meet in Geneva for emergency climate talks",
        local="Town library reopens after a year of renovations",
        national="Government announces a nationwide rail strike for next week",
        international="Two neighbouring countries sign a historic trade deal",
        climate="Record heat forces schools to close early across the region",
        economy="Inflation eases for the third month in a row",
        education="University scraps entrance fees for first-generation students",
        crime="Police recover stolen paintings from a storage unit",
        travel="Ten quiet islands to visit before the summer crowds",
        food="The secret to crispy roast potatoes, according to chefs",
        fashion="Wide trousers are back, and designers can't get enough",
        lifestyle="How one family cut their screen time in half",
        report="Council confirms the bridge will close for repairs in June",
        interview="'I never planned to be an astronaut,' says the mission commander",
        good_news="Rescued sea turtles return to the ocean after months of care",
        bad_news="Factory closure puts hundreds of jobs at risk",
        arts="Sculpture exhibition draws record crowds to the harbour museum",
        sport="Teenage swimmer breaks a national record",
        weather="Storm warnings issued as strong winds approach the coast",
        joy="We just found out we're having twins and I can't stop smiling!",
        sadness="I miss my grandmother more every day since she passed.",
        anger="I can't believe they cancelled the concert an hour before it started!",
        fear="I just heard footsteps downstairs and I'm home alone.",
        surprise="Wait, you planned all of this without telling me?",
        excited="Only two more days until the trip - I've already packed!",
        anxious="My interview is tomorrow and I keep going over every possible question.",
        bored="Another three-hour lecture on tax codes. Wake me when it's over.",
        content="A quiet evening, a good book and a cup of tea. Perfect.",
        grateful="Thank you for covering my shift, you really saved me.",
        frustrated="I've restarted the router five times and it still won't connect.",
        hopeful="The new treatment seems to be working; fingers crossed.",
        indifferent="Pizza or pasta, I honestly don't mind.",
        calm="The deadline moved, but we have a plan and plenty of time.",
        stressed="Three deadlines this week and my laptop just died.",
        love="Every morning with you feels like the first one.",
        disgust="There was a hair in my salad and the waiter just shrugged.",
        proud="My daughter finished her first marathon today!",
        ashamed="I forgot my best friend's birthday again.",
        relieved="The test results came back clear. I can finally breathe.",
        curious="I wonder how they build bridges over such deep water.",
        confused="Wait, is the meeting today or was it moved to Thursday?",
        confident="I've practised all month; I know I'll nail this presentation.",
        nostalgic="This song takes me straight back to summers at my grandparents' farm.",
        amused="The dog stole the birthday cake and looked so proud of himself.",
        annoyed="The neighbours are drilling again at seven on a Sunday.",
        trusting="I know you'll take good care of the plants while I'm away.",
        suspicious="Why is a 'bank' asking me to confirm my password by text?",
        lonely="Another weekend in the new city and I haven't spoken to anyone.",
        loved="My friends threw me a surprise party and I cried happy tears.",
        ignored="I've sent three emails and nobody has replied.",
        informational="how do vaccines work",
        navigational="city library login page",
        transactional="buy running shoes size 42 free delivery",
        booking="I'd like to book a table for four on Friday at 7.",
        cancellation="Please cancel my gym membership from next month.",
        question="Do you ship to Canada?",
        buy="order blue wool sweater medium",
        compare="kindle vs kobo which is better for reading",
        research="best electric cars 2023 range reviews",
        greeting="Hi there! Hope you're having a good day.",
        request="Can you send me a copy of my last invoice?",
        feedback="The new checkout page is much faster, nice work.",
        order_status="Where is my order #48213?",
        refund="I returned the blender last week. When will I get my money back?",
        product_info="Does this phone case fit the newer model?",
        other="Do you know a good plumber in the area?",
        schedule="I need an appointment with Dr. Lee next week.",
        cancel="I can't make my appointment on Tuesday, please cancel it.",
        reschedule="Could we move my Thursday appointment to the afternoon?",
        ask_a_question="Do I need to bring anything to my first visit?",
        easy="What is 7 + 5?",
        medium="A train travels 180 km in 2 hours. What is its average speed?",
        hard="Prove that there are infinitely many prime numbers.",
        beginner="Name the three primary colors.",
        intermediate="Explain why the sky is blue in two sentences.",
        advanced="Derive the formula for the sum of a geometric series.",
        transport="Monthly metro pass - {amount}",
        housing="Rent for the apartment on {street}",
        utilities="Electricity bill for March",
        necessary="Winter coat for a child who outgrew the old one",
        discretionary="Concert tickets for Saturday night",
        personal="Birthday present for my sister",
        recurring="Streaming subscription, charged on the 1st of every month",
        one_time="Plumber call-out to fix a burst pipe",
        essential="Weekly groceries for the family",
        nice_to_have="A second pair of running shoes",
        wasteful="Third coffee machine this year because the old one looked outdated",
        yes="Yes - this clearly fits.",
        no="No, not in this case.",
    ),
    "1": _words("Awful. Broke on day one and support never answered."),
    "2": _words("Not great. It works, but the battery barely lasts a morning."),
    "3": _words("It's okay. Does the job, nothing more."),
    "4": _words("Really good overall; only the setup instructions were confusing."),
    "5": _words("Perfect in every way, I'd buy it again tomorrow!"),
}
CATEGORY_EXAMPLES: dict[str, tuple[str, ...]] = _bank(
    mammal="dolphin|red fox|bat", bird="penguin|sparrow|ostrich", reptile="gecko|sea turtle",
    amphibian="salamander|tree frog", fish="salmon|clownfish", vegetable="carrot|spinach",
    grain="barley|quinoa", dairy="yogurt|cheddar", team_sport="volleyball|ice hockey",
    individual_sport="archery|figure skating", land="tractor|bicycle", water="canoe|ferry", air="glider|helicopter",
    healthcare="physiotherapist|radiographer", education="kindergarten teacher|school counselor",
    technology="network engineer|data analyst", fiction="The Night Circus|Treasure Island",
    nonfiction="A Brief History of Time|Educated", metal="copper|sodium", nonmetal="oxygen|sulfur",
    metalloid="silicon|boron", europe="Portugal|Poland", asia="Vietnam|Mongolia", africa="Ghana|Kenya",
    the_americas="Peru|Canada", oceania="Fiji|New Zealand", noun="harbor|courage", verb="whisper|carry",
    adjective="brittle|generous", adverb="quietly|often", renewable="wind power|geothermal heat",
    nonrenewable="coal|natural gas", rocky_planet="Mars|Venus", gas_giant="Jupiter|Saturn",
    ice_giant="Neptune|Uranus", alcoholic="cider|red wine", non_alcoholic="lemonade|oat milk",
    prime="29|97", composite="91|120", compiled="Rust|C++", interpreted="Ruby|Python", religious="Diwali|Easter",
    secular="New Year's Eve|Labour Day", tree="oak|birch", shrub="lavender|boxwood", herb="basil|mint",
    vine="grapevine|ivy", spam="CONGRATS! You've won a free cruise, click here to claim now!!!|"
                              "Cheap meds, no prescription needed, order today",
    not_spam="Hi Sam, the meeting notes are attached. See you Thursday.|Your library books are due on Friday.",
    igneous="granite|basalt", sedimentary="limestone|sandstone", metamorphic="marble|slate",
    string="cello|harp", woodwind="clarinet|oboe", brass="trumpet|tuba", percussion="marimba|snare drum",
    predator="wolf|orca", prey="rabbit|gazelle", both="weasel|frog", herbivore="cow|giraffe",
    carnivore="lion|shark", omnivore="bear|raccoon", solid="iron|table salt", liquid="olive oil|mercury",
    gas="helium|neon", conductor="copper wire|aluminium foil", insulator="rubber|glass",
    ancient="Julius Caesar|Cleopatra", medieval="Joan of Arc|Charlemagne", modern="Marie Curie|Nelson Mandela",
    hot="the Sahara|Singapore", temperate="southern England|New Zealand", cold="Siberia|Greenland",
    appetizer="bruschetta|spring rolls", main_course="lasagna|chicken curry", dessert="tiramisu|apple pie",
    input_device="keyboard|webcam", output_device="monitor|printer", storage_device="SSD|USB stick",
    insect="ladybird|ant", arachnid="tarantula|scorpion", crustacean="crab|lobster", acid="lemon juice|vinegar",
    base="bleach|baking soda solution", mountain="Kilimanjaro|Mont Blanc", river="the Danube|the Mekong",
    desert="the Gobi|the Atacama", island="Madagascar|Iceland", comedy="Groundhog Day|Hot Fuzz",
    drama="The Godfather|Moonlight", horror="The Shining|Get Out", documentary="March of the Penguins|Free Solo",
    poem="The Raven|Ozymandias", novel="Pride and Prejudice|Beloved", play="Hamlet|Death of a Salesman",
    essay="A Modest Proposal|Self-Reliance", indoor="knitting|chess", outdoor="kayaking|birdwatching",
    citrus="grapefruit|lime", berry="blueberry|raspberry", stone_fruit="peach|cherry", tropical="mango|papaya",
    vowel="e|o", consonant="k|t", even="48|112", odd="37|95", fruit="banana|plum", food="fresh bread",
    entertainment="cinema tickets",
)
ISSUE_TEXTS: dict[str, str] = {
    "a personal attack": "Only an idiot would believe this, and you clearly are one.",
    "sarcasm": "Oh wonderful, the train is late again. What a surprise.",
    "a spelling mistake": "Please recieve the attached documents before the meeting.",
    "a factual claim": "The bridge was built in 1932 and carries 40,000 cars a day.",
    "a request for help": "Could anyone help me move a sofa on Saturday?",
    "a question": "Is the pool open on public holidays?",
    "a complaint": "The room was dirty and the air conditioning never worked.",
    "an offer to sell something": "Selling my old bike, barely used, message me for a good price.",
    "a deadline": "Please submit your timesheets by Friday at 5 pm.",
    "medical advice": "Take two ibuprofen and rest your ankle for a few days.",
    "a threat": "If you park there again, you'll regret it.",
    "an apology": "I'm really sorry I missed your call yesterday.",
    "a compliment": "Your presentation was the clearest one of the whole day.",
    "a promise": "I will have the draft on your desk by Monday morning.",
}
NEUTRAL_TEXTS: tuple[str, ...] = (
    "The quarterly figures are attached for your review.",
    "The bus leaves from platform four at half past eight.",
    "Lunch will be served in the main hall today.",
)
DIET_TEXTS = {"yes": "Grilled vegetables with brown rice, lemon and fresh herbs.",
              "no": "Beef burger with cheddar, bacon, butter-fried onions and a brioche bun."}


def _label_key(label: str) -> str:
    return label.strip().lower()


def _pair_input(label: str, v: _Vocab) -> str:
    """Two texts whose relation matches the label of a pair task."""
    first = v.fill("Remote work saves employees {n} hours of commuting a week.")
    second = {
        "yes": "Working from home cuts the weekly commute by several hours.",
        "true": "Employees who work from home spend less time commuting.",
        "entailment": "Working from home reduces commuting time.",
        "same": "Working remotely frees up hours otherwise spent commuting.",
        "no": "Office rents in the city centre rose again this year.",
        "false": "Remote workers spend more time commuting than office workers.",
        "contradiction": "Remote work does not change how long people commute.",
        "different": "Many companies now offer free lunches at the office.",
        "neutral": "Some remote workers report feeling lonely.",
    }.get(_label_key(label), "A short, unrelated remark about the weather.")
    return f"First: {first}\nSecond: {second}"


def input_for_label(task: SyntheticTask, label: str, rng: random.Random) -> str:
    """A plausible input that a classifier should put under this label."""
    v = _Vocab(rng, task_slots(task.instruction))
    key = _label_key(label)
    if "pair_kind" in v or "relation" in v:
        return _pair_input(label, v)
    if "diet" in v and key in DIET_TEXTS:
        return DIET_TEXTS[key]
    if "issue" in v and key in ("yes", "no"):
        return ISSUE_TEXTS.get(v["issue"], v["issue"]) if key == "yes" else v.pick(NEUTRAL_TEXTS)
    if "topic" in v and key in ("yes", "no"):
        topic = v["topic"] if key == "yes" else v["topic2"]
        return f"{topic[:1].upper()}{topic[1:]} " + v.pick((
            "has been on everyone's mind in {place} this year.", "came up again at last night's town meeting.",
            "is the focus of a new exhibition opening on {weekday}."))
    if "noun" in v and key in CATEGORY_EXAMPLES:
        return rng.choice(CATEGORY_EXAMPLES[key])
    if key in LABEL_TEXTS:
        return v.pick(LABEL_TEXTS[key])
    if key in CATEGORY_EXAMPLES:
        return rng.choice(CATEGORY_EXAMPLES[key])
    return v.pick(GENERIC_TEXTS)


# --- family answers: each returns (input, output) ------------------------------

_Answer = tuple[str, str]


def _paragraph(v: _Vocab, low: int = 3, high: int = 4) -> str:
    """A short news-style passage that opens with its topic."""
    return " ".join([v.fill(NEWS_SENTENCES[0]), *v.sample(NEWS_SENTENCES[1:], v.rng.randint(low, high) - 1)])


def _summary(v: _Vocab) -> str:
    return v.pick((
        "{Topic} is dividing opinion in {place}: supporters expect benefits for {affected_group}, "
        "critics worry about the cost.",
        "The piece reports growing interest in {topic} in {place} and a final council report due on {date}.",
        "In short, {topic} is changing habits in {place}, but the debate is not settled.",
    ))


def _code(v: _Vocab, lang: str | None = None) -> str:
    """A small, plausible-looking function in the requested language."""
    lang = lang or v.get("prog_lang") or "Python"
    task = v.get("coding_task") or v.fill("{coding_task}")
    words = [w for w in re.findall(r"[a-z]+", task.lower()) if w not in ("a", "an", "the", "of", "two", "given")]
    snake = "_".join(words[:3]) or "solve"
    camel = words[0] + "".join(w.capitalize() for w in words[1:3]) if words else "solve"
    if lang in ("JavaScript", "TypeScript"):
        sig = "items: number[]): number[]" if lang == "TypeScript" else "items)"
        return (f"function {camel}({sig} {{\n  const result = [];\n  for (const item of items) {{\n"
                f"    if (item !== undefined) result.push(item);\n  }}\n  return result;\n}}")
    if lang in ("Java", "C#", "Kotlin", "Scala", "Swift", "C++", "PHP"):
        return (f"// {lang}: {task}\nstatic List<Integer> {camel}(List<Integer> items) {{\n"
                f"    List<Integer> result = new ArrayList<>();\n    for (int item : items) {{\n"
                f"        result.add(item);\n    }}\n    return result;\n}}")
    if lang == "Rust":
        return (f"fn {snake}(items: &[i32]) -> Vec<i32> {{\n    let mut result = Vec::new();\n"
                f"    for item in items {{\n        result.push(*item);\n    }}\n    result\n}}")
    if lang in ("Ruby", "Elixir", "Julia"):
        return f"def {snake}(items)\n  result = []\n  items.each do |item|\n    result << item\n  end\n  result\nend"
    if lang == "Bash":
        return f"{snake}() {{\n  for item in \"$@\"; do\n    echo \"$item\"\n  done\n}}"
    if lang == "Haskell":
        return f"{camel} :: [Int] -> [Int]\n{camel} [] = []\n{camel} (x:xs) = x : {camel} xs"
    return (f"def {snake}(items):\n    \"\"\"{task[:1].upper()}{task[1:]}.\"\"\"\n    result = []\n"
            f"    for item in items:\n        result.append(item)\n    return result")


def _sql(v: _Vocab) -> str:
    table = v.pick(("orders", "bookings", "users", "rides", "loans", "episodes"))
    return (f"SELECT customer_id, COUNT(*) AS total\nFROM {table}\nWHERE created_at >= '2023-01-01'\n"
            f"GROUP BY customer_id\nORDER BY total DESC\nLIMIT 10;")


def _coding(task: SyntheticTask, v: _Vocab) -> _Answer:
    text = task.instruction
    if "SQL" in text:
        return "", _sql(v)
    if "edge cases" in text:
        return "", _lines(["An empty input.", "A single element.", "Very large inputs.", "Duplicate values.",
                           "Invalid types such as None or strings."], "bullets")
    if "unit tests" in text:
        name = _code(v, "Python").split("(")[0].removeprefix("def ")
        return "", (f"import unittest\n\nclass Test{name.title().replace('_', '')}(unittest.TestCase):\n"
                    f"    def test_empty(self):\n        self.assertEqual({name}([]), [])\n\n"
                    f"    def test_simple(self):\n        self.assertEqual({name}([3, 1, 2]), [3, 1, 2])")
    if not task.takes_input:
        return "", _code(v)
    if "error" in text:
        return "TypeError: unsupported operand type(s) for +: 'int' and 'str'", (
            "You are adding a number and a string. Convert one of them first, for example with int() or str().")
    snippet = _code(v)
    if re.search(r"\b(Rewrite|Port)\b", text):
        return snippet, _code(v, v.get("prog_lang2") or "Python")
    if re.search(r"\b(bug|fail)\b", text):
        return snippet.replace("result", "reslt", 1), (
            "The variable is declared as 'reslt' but used as 'result', so the first line of the loop fails. "
            "Use the same name everywhere.")
    if "comments" in text or "Rename" in text:
        return snippet, "# Collect the items one by one.\n" + snippet
    if "risks" in text:
        return snippet, _lines(["No input validation.", "It loads everything into memory.",
                                "Errors are not logged.", "There are no tests."], "bullets")
    return snippet, v.fill("It walks through the input once, keeps each item in a new list and returns that "
                           "list, so it runs in linear time. The {prog_lang} version is straightforward to read.")


def _numbers(v: _Vocab, k: int = 6) -> list[int]:
    return [v.rng.randint(3, 95) for _ in range(k)]


def _math(task: SyntheticTask, v: _Vocab) -> _Answer:
    if {"coef", "const", "rhs"} <= v.keys():
        a, b, c = int(v["coef"]), int(v["const"]), int(v["rhs"])
        x = (c - b) / a
        shown = str(int(x)) if x.is_integer() else f"{x:.2f}"
        return "", f"Subtract {b} from both sides: {a}x = {c - b}.\nDivide both sides by {a}: x = {shown}."
    if task.takes_input:
        values = _numbers(v)
        mean = sum(values) / len(values)
        return ", ".join(map(str, values)), f"The {v.get('stat', 'mean')} is about {mean:.1f}."
    if "quantity" in v:
        q = int(v["quantity"])
        return "", (f"Multiply by the conversion factor: {q} x 1.6 = {q * 1.6:.1f}. "
                    f"So the answer is about {q * 1.6:.0f}.")
    return "", _lines(v.sample((
        "Write down the numbers you know: a budget of {amount} a month.",
        "Estimate the main costs first, then add about 10 percent for surprises.",
        "Divide the total by the number of weeks to get a weekly figure.",
        "Round to a sensible amount and check it against last month's spending.",
        "Compare the result with the target and adjust one item at a time.",
    ), 4))


def _rewriting(task: SyntheticTask, v: _Vocab) -> _Answer:
    text = task.instruction
    if "language2" in v or re.search(r"\b(Translate|Render)\b", text):
        pair = v.rng.choice(TRANSLATIONS)
        source = pair.get(v.get("language", "English"), pair["English"])
        target = pair.get(v.get("language2", "Spanish"), pair["Spanish"])
        return source, target if target != source else pair["French"]
    if re.search(r"\b(grammar|Proofread)\b", text):
        return v.rng.choice(GRAMMAR_PAIRS)
    if "notes_kind" in v:
        notes = _lines(v.sample(("budget approved: {amount}", "launch moved to {date}",
                                 "{name} owns the press contacts", "next check-in {weekday} {time}",
                                 "survey response rate {pct}%"), 3), "bullets")
        return notes, v.fill("The budget of {amount} has been approved and {name} will handle the press contacts. "
                             "The team meets again on {weekday} at {time}.")
    if "word_limit" in v:
        return _paragraph(v), _summary(v)
    casual, formal = v.rng.choice(CASUAL_FORMAL)
    return (v.fill(casual), v.fill(formal)) if v.rng.random() < 0.6 else (v.fill(formal), v.fill(casual))


def _extraction(task: SyntheticTask, v: _Vocab) -> _Answer:
    kind = (v.get("entity_type") or ("deadline" if "deadline" in task.instruction else "person name")).lower()
    makers = {"date": "date", "deadline": "date", "person name": "name", "location": "place",
              "email address": "email", "phone number": "phone", "monetary amount": "amount",
              "medication": "medication", "product name": "product", "street address": "street",
              "company name": "company_kind", "job title": "profession"}
    slot = makers.get(kind)
    if slot is None:
        text = _paragraph(v)
        return text, _lines([s.rstrip(".") for s in re.split(r"(?<=\.) ", text)][:3], "bullets")
    found = [v[f"{slot}{i}"] for i in range(1, 6)]
    found = list(dict.fromkeys(found))[:v.rng.randint(2, 3)]
    sentences = [f"The first update came from {found[0]}.", f"Later, {found[1]} was mentioned in the minutes."]
    sentences += [f"Everything else was postponed until {found[2]}."] if len(found) > 2 else []
    style = "bullets" if "bullet" in v.get("output_format", "bullet") else "numbered"
    if "comma" in v.get("output_format", "") or "JSON" in v.get("output_format", ""):
        return " ".join(sentences), ", ".join(found)
    return " ".join(sentences), _lines(found, style)


def _writing(task: SyntheticTask, v: _Vocab) -> _Answer:
    text = task.instruction.lower()
    if task.takes_input:
        if "headline" in text or "title" in text:
            return _paragraph(v), v.fill("{Topic}: What {place} Learned This Year")
        if "continue" in text:
            return v.pick(STORY_SENTENCES), " ".join(v.sample(STORY_SENTENCES, 3))
        return v.pick(GENERIC_TEXTS), v.fill("Thank you for letting me know. I understand, and I'll follow up by "
                                             "{weekday} with a clear answer.")
    if re.search(r"poem|haiku|limerick|sonnet|rhyme|verse", text):
        return "", "\n".join(line[:1].upper() + line[1:] for line in v.sample(POEM_LINES, v.rng.randint(3, 5)))
    if re.search(r"slogan|tagline|motto", text):
        return "", v.pick(('"Fresh every morning, right around the corner."', '"Small shop, big ideas."',
                           '"Made slowly, enjoyed quickly."', '"Go further, worry less."'))
    if re.search(r"email|letter|message", text):
        return "", v.fill("Dear {Name2},\n\nI am writing about {situation}. I would appreciate a short call "
                          "this week to agree on the next steps.\n\nBest regards,\n{name}")
    if "dialogue" in text or "script" in text:
        a, b = v.fill("{Profession}"), v.fill("{Profession2}")
        return "", f"{a}: I still think we are underestimating it.\n{b}: Maybe, but the numbers say otherwise.\n" \
                   f"{a}: Numbers don't tell the whole story.\n{b}: Then let's find the rest of it together."
    return "", " ".join(v.sample(STORY_SENTENCES, v.rng.randint(3, 4)))


def _list_answer(v: _Vocab, bank: tuple[str, ...], style: str = "numbered", ordered: bool = False) -> str:
    return _lines(v.sample(bank, _count(v), ordered), style)


PLAN_ITEMS: tuple[str, ...] = (
    "Day 1: Walk the old town in the morning and try a local market for lunch.",
    "Day 2: Take an early train to the coast and rent bikes for the afternoon.",
    "Set a budget of {amount} and book the cheapest refundable options first.",
    "Week 1: Build the habit with 20-minute sessions on {weekday}s.",
    "Week 2: Add one longer session and review what worked.",
    "Prepare the materials the evening before.",
    "Keep one free afternoon as a backup for bad weather.",
    "Finish with a short checklist and share it with everyone involved.",
)
IDEA_ITEMS: tuple[str, ...] = (
    "A themed scavenger hunt around {place}", "The Copper Kettle", "A swap shop for {interest} fans",
    "Moonlight & Crumbs", "A one-page zine about {topic}", "A community workshop with a local {profession}",
    "Bright Side Co.", "Turn it into a friendly competition with small prizes", "The Slow Lane",
    "A five-minute daily challenge", "A guided walk with stories about {topic}", "Northbound Supply",
)


def _qa(task: SyntheticTask, v: _Vocab) -> _Answer:
    text = task.instruction.lower()
    if not task.takes_input:
        return "", " ".join(v.sample(EXPLAIN_SENTENCES, v.rng.randint(3, 4)))
    if "quiz" in text or "multiple-choice" in text:
        return _paragraph(v), _lines(v.sample(("What did the survey find?", "Who published the final report?",
                                               "Why do critics object?", "Where did the debate start?"), 3))
    if "trend" in text:
        values = sorted(_numbers(v, 5))
        return ", ".join(map(str, values)), f"The values rise steadily from {values[0]} to {values[-1]}."
    if re.search(r"question|problem|exercise|homework", text):
        return v.pick(("What is the area of a circle with a radius of 3 cm?",
                       "Balance the equation: H2 + O2 -> H2O.", "Why does ice float on water?")), \
            " ".join(v.sample(EXPLAIN_SENTENCES, 2))
    return _paragraph(v), v.fill("According to the text, the council will publish its report on {date}.")


def _reasoning(task: SyntheticTask, v: _Vocab) -> _Answer:
    text = task.instruction.lower()
    answer = " ".join(v.sample(EXPLAIN_SENTENCES, 2)) + " " + v.pick((
        "So the most likely answer is the second option.", "Therefore the claim does not hold.",
        "That leaves only one possibility."))
    if not task.takes_input:
        return "", answer
    if "fallacy" in text or "logic" in text or "flaw" in text or "assumption" in text:
        return v.fill("Everyone in {place} is switching to electric bikes, so you should too."), \
            "This is an appeal to popularity: many people doing something does not make it right for you."
    clues = _lines(v.sample(("{Name} arrived at {time}.", "The back door was locked all evening.",
                             "Someone left muddy footprints by the window.",
                             "{Name2} says they never left the kitchen.", "The lights went out at {time2}."), 3),
                   "bullets")
    return clues, answer


def _planning(task: SyntheticTask, v: _Vocab) -> _Answer:
    plan = _list_answer(v, PLAN_ITEMS, v.rng.choice(("numbered", "bullets")), ordered=True)
    if task.takes_input:
        return _lines(v.sample(("Budget: {amount}", "Guests: {n}", "Available: {weekday} after {time}",
                                "Must finish by {date}", "Venue: community hall"), 3), "bullets"), plan
    return "", plan


def _advice(task: SyntheticTask, v: _Vocab) -> _Answer:
    answer = " ".join(v.sample(ADVICE_SENTENCES, v.rng.randint(2, 3)))
    if "questions" in task.instruction:
        answer = _list_answer(v, ("What is the main goal here?", "Who is responsible for each step?",
                                  "What happens if the deadline slips?", "Which costs are not covered?",
                                  "How will success be measured?", "What was left out, and why?",
                                  "Who needs to approve it?"))
    if task.takes_input:
        return v.pick(GENERIC_TEXTS), answer
    return ("", _lines(v.sample(ADVICE_SENTENCES, _count(v)), "bullets")) if v.rng.random() < 0.4 else ("", answer)


def _classification(task: SyntheticTask, v: _Vocab) -> _Answer:
    label = v.rng.choice(task.labels or YES_NO)
    text = input_for_label(task, label, v.rng) if task.takes_input else ""
    return text, label


def _unknown(task: SyntheticTask, v: _Vocab) -> _Answer:
    if task.is_classification:
        return _classification(task, v)
    answer = " ".join(v.sample(EXPLAIN_SENTENCES + ADVICE_SENTENCES, v.rng.randint(2, 3)))
    return (_paragraph(v, 2, 3), answer) if task.takes_input else ("", answer)


_FAMILY_ANSWERS = {
    "coding": _coding, "math": _math, "rewriting": _rewriting, "extraction": _extraction,
    "summarization": lambda t, v: (_paragraph(v), _summary(v)), "writing": _writing, "qa": _qa,
    "reasoning": _reasoning, "planning": _planning, "advice": _advice, "classification": _classification,
    "brainstorming": lambda t, v: ("", _list_answer(v, IDEA_ITEMS)),
    "keyword": lambda t, v: ("", v.pick(REFUSALS)),
}


def _tidy(text: str) -> str:
    """Natural answers never end with a colon (that is a defect the filters look for)."""
    return text.strip().rstrip(":").rstrip()


def make_instance(task: SyntheticTask, rng: random.Random) -> SyntheticInstance:
    """A plausible example of the task: an input when it takes one, and an answer."""
    v = _Vocab(rng, task_slots(task.instruction))
    answer = _classification if task.is_classification else _FAMILY_ANSWERS.get(task.family, _unknown)
    text, output = answer(task, v)
    text, output = (_tidy(text) if task.takes_input else ""), _tidy(output)
    if not output or output == text:
        output = _tidy(" ".join(v.sample(EXPLAIN_SENTENCES, 2)))
    return SyntheticInstance(text, output)


def other_output(task: SyntheticTask, instance: SyntheticInstance, rng: random.Random) -> str:
    """A different answer for the same input (what a conflicting example carries)."""
    if task.is_classification:
        others = [label for label in task.labels or YES_NO if label != instance.output]
        return rng.choice(others) if others else f"not {instance.output}"
    for _ in range(4):
        output = make_instance(task, rng).output
        if output not in (instance.output, instance.input):
            return output
    return instance.output + " " + rng.choice(EXPLAIN_SENTENCES)
