"""How well does a backend choose between calling a function and talking?

    python scripts/tool_choice.py --llm-url http://127.0.0.1:8000

Sends 10 clear action requests and 10 turns that only talk about the same topics (never calls),
each once, greedily (temperature 0), with two declared functions, and counts: action requests
that called the right function with a sensible argument, and talk turns that called anything.
This is the measurement behind refusing tools with the embedded SmolLM2-135M (docs/protocol.md).
"""

from __future__ import annotations

import argparse
import time

from chimein.generation.llm import ChatMessage, OpenAICompatibleLLM, ToolCall
from chimein.protocol.tools import parse_tools

TOOLS = [s.to_openai() for s in parse_tools([{"functionDeclarations": [
    {"name": "add_to_shopping_list", "description": "Add an item to the user's shopping list",
     "parameters": {"type": "OBJECT", "properties": {"item": {"type": "STRING"}}, "required": ["item"]}},
    {"name": "set_timer", "description": "Start a kitchen timer",
     "parameters": {"type": "OBJECT", "properties": {"minutes": {"type": "INTEGER"}}, "required": ["minutes"]}},
]}])]
# (utterance, function expected or None, a word the argument must contain)
CASES = [
    ("Please add eggs to my shopping list.", "add_to_shopping_list", "egg"),
    ("Put milk on the shopping list.", "add_to_shopping_list", "milk"),
    ("Can you add two lemons to the list?", "add_to_shopping_list", "lemon"),
    ("Add flour to my shopping list, please.", "add_to_shopping_list", "flour"),
    ("We're out of butter, add it to the list.", "add_to_shopping_list", "butter"),
    ("Set a timer for ten minutes.", "set_timer", "10"),
    ("Start a five minute timer, please.", "set_timer", "5"),
    ("Can you set a timer for twenty minutes?", "set_timer", "20"),
    ("Timer for three minutes please.", "set_timer", "3"),
    ("Set the kitchen timer to eight minutes.", "set_timer", "8"),
    ("What is the capital of France?", None, ""),
    ("I love eggs for breakfast.", None, ""),
    ("My mother always bought too much milk.", None, ""),
    ("How long should I boil an egg?", None, ""),
    ("The shopping was exhausting today.", None, ""),
    ("Timers always make me nervous.", None, ""),
    ("Do you like lemons?", None, ""),
    ("What can I cook with flour and butter?", None, ""),
    ("Tell me a joke about cooking.", None, ""),
    ("Thanks, that was helpful.", None, ""),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--llm-url", required=True, help="an OpenAI-compatible server that calls tools")
    parser.add_argument("--llm-model", default=None)
    args = parser.parse_args()
    llm = OpenAICompatibleLLM(args.llm_url, model=args.llm_model)
    right = wrong_calls = 0
    for text, expected, word in CASES:
        started = time.perf_counter()
        items = list(llm.stream_turn([ChatMessage("system", "You are a kitchen assistant."), ChatMessage("user", text)],
                                     tools=TOOLS, max_tokens=60, temperature=0.0))
        calls = [i for i in items if isinstance(i, ToolCall)]
        shown = ", ".join(f"{c.name}({c.args})" for c in calls) or repr("".join(i for i in items if isinstance(i, str)))
        if expected is None:
            wrong_calls += bool(calls)
        else:
            right += any(c.name == expected and word in str(c.args).lower() for c in calls)
        print(f"{time.perf_counter() - started:5.1f}s  {text!r:55} -> {shown}")
    actions = sum(1 for c in CASES if c[1])
    print(f"action requests called correctly: {right}/{actions}; "
          f"talk turns that called a function: {wrong_calls}/{len(CASES) - actions}")


if __name__ == "__main__":
    main()
