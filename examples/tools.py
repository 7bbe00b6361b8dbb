"""Ask chimein BY VOICE to do something; it calls your function and tells you the result.

Uses only the public google-genai SDK. Start a chimein server whose answers come from an
OpenAI-compatible server that calls tools, for example llama.cpp's (see README, "Function calling"):

    python -m llama_cpp.server --model MODEL.gguf --chat_format chatml-function-calling --port 8000 &
    chimein serve --llm-url http://127.0.0.1:8000

then run this with a recording of your request (16 kHz mono WAV, e.g. "Please add eggs to my
shopping list"; record one with `arecord -f S16_LE -r 16000 -c 1 request.wav`):

    python examples/tools.py request.wav

It declares ``add_to_shopping_list``, streams the recording as a microphone would, runs the
function when the server sends ``toolCall``, answers with ``toolResponse``, and saves the spoken
answer to answer.wav. The last line it prints is a JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
import wave
from pathlib import Path

from google import genai
from google.genai import types

SHOPPING_LIST = ["milk", "bread", "apples", "rice", "coffee", "butter"]


def add_to_shopping_list(item: str) -> dict:
    """The function the assistant may call: a real (if small) side effect."""
    SHOPPING_LIST.append(item)
    return {"result": "added", "items_on_list": len(SHOPPING_LIST)}


DECLARATION = types.FunctionDeclaration(
    name="add_to_shopping_list",
    description="Add an item to the user's shopping list",
    parameters=types.Schema(type="OBJECT", properties={"item": types.Schema(type="STRING", description="the item to add")},
                            required=["item"]),
)


def read_pcm16k(path: Path) -> bytes:
    with wave.open(str(path), "rb") as wav:
        if (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) != (16000, 1, 2):
            sys.exit(f"{path}: need 16 kHz mono 16-bit PCM WAV")
        return wav.readframes(wav.getnframes())


async def run(args: argparse.Namespace) -> dict:
    options = types.HttpOptions(base_url=args.base_url)
    if args.cert:
        options.async_client_args = {"ssl": ssl.create_default_context(cafile=args.cert)}
    client = genai.Client(api_key=args.api_key, http_options=options)
    config = types.LiveConnectConfig(
        response_modalities=["AUDIO"],
        temperature=0.0,
        system_instruction="You are a kitchen assistant.",
        tools=[types.Tool(function_declarations=[DECLARATION])],
        input_audio_transcription=types.AudioTranscriptionConfig(),
        output_audio_transcription=types.AudioTranscriptionConfig(),
    )
    pcm = read_pcm16k(args.wav) + bytes(3200 * 80)  # the request, then 8 s of open microphone
    summary: dict = {"heard": "", "calls": [], "said": "", "answer_s": 0.0}
    answer = bytearray()
    async with client.aio.live.connect(model=args.model, config=config) as session:
        done = asyncio.Event()

        async def microphone() -> None:
            for i in range(0, len(pcm), 3200):  # 100 ms chunks in real time
                if done.is_set():
                    return
                await session.send_realtime_input(audio=types.Blob(data=pcm[i:i + 3200], mime_type="audio/pcm;rate=16000"))
                await asyncio.sleep(0.1)

        mic = asyncio.create_task(microphone())
        async for message in session.receive():
            if message.tool_call:
                for call in message.tool_call.function_calls:
                    result = add_to_shopping_list(**call.args) if call.name == DECLARATION.name else {"error": "unknown"}
                    print(f"toolCall {call.name}({json.dumps(call.args)}) -> {json.dumps(result)}", flush=True)
                    summary["calls"].append({"name": call.name, "args": call.args, "result": result})
                    await session.send_tool_response(
                        function_responses=[types.FunctionResponse(id=call.id, name=call.name, response=result)])
            content = message.server_content
            if content is None:
                continue
            if content.input_transcription and content.input_transcription.text:
                summary["heard"] += content.input_transcription.text
                print("heard:", content.input_transcription.text.strip(), flush=True)
            if content.output_transcription and content.output_transcription.text:
                summary["said"] += content.output_transcription.text
            for part in (content.model_turn.parts if content.model_turn and content.model_turn.parts else []):
                if part.inline_data and part.inline_data.data:
                    answer.extend(part.inline_data.data)
        done.set()
        await mic
    with wave.open(str(args.out), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(24000)
        wav.writeframes(bytes(answer))
    summary["answer_s"] = round(len(answer) / 2 / 24000, 2)
    print("said:", summary["said"].strip(), f"({summary['answer_s']} s, saved to {args.out})", flush=True)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wav", type=Path, help="your spoken request: 16 kHz mono 16-bit WAV")
    parser.add_argument("--base-url", default="https://127.0.0.1:8443", help="chimein's TLS address")
    parser.add_argument("--cert", default=str(Path("~/.chimein/tls/cert.pem").expanduser()),
                        help="chimein's certificate, to trust its TLS (default: ~/.chimein/tls/cert.pem)")
    parser.add_argument("--api-key", default="any-key", help="needed only when chimein serve was given --api-key")
    parser.add_argument("--model", default="gemini-2.5-flash-native-audio-preview-12-2025")
    parser.add_argument("--out", type=Path, default=Path("answer.wav"), help="where to save the spoken answer")
    summary = asyncio.run(run(parser.parse_args()))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
