"""Parsers for what LLMs really reply: numbered lists, Yes/No answers, instance blocks, Alpaca tasks."""

from selfinstruct.parsing.alpaca import parse_alpaca_tasks
from selfinstruct.parsing.classification import parse_packed_answers, parse_packed_labels, parse_yes_no
from selfinstruct.parsing.instances import parse_input_first, parse_output_first
from selfinstruct.parsing.instructions import clean_demo, collapse_whitespace, parse_instruction_list
from selfinstruct.parsing.judge import Verdict, parse_audit, parse_rating

__all__ = [
    "Verdict",
    "clean_demo",
    "collapse_whitespace",
    "parse_alpaca_tasks",
    "parse_audit",
    "parse_input_first",
    "parse_instruction_list",
    "parse_output_first",
    "parse_packed_answers",
    "parse_packed_labels",
    "parse_rating",
    "parse_yes_no",
]
