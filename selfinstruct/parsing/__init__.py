"""Parsers for what LLMs really reply: numbered lists, Yes/No answers, instance blocks, Alpaca tasks."""

from selfinstruct.parsing.alpaca import parse_alpaca_tasks
from selfinstruct.parsing.classification import parse_yes_no
from selfinstruct.parsing.instances import parse_input_first, parse_output_first
from selfinstruct.parsing.instructions import clean_demo, collapse_whitespace, parse_instruction_list

__all__ = [
    "clean_demo",
    "collapse_whitespace",
    "parse_alpaca_tasks",
    "parse_input_first",
    "parse_instruction_list",
    "parse_output_first",
    "parse_yes_no",
]
