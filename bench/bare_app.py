"""The floor for bench/ack.py: a Flask endpoint that reads the body and answers 202, nothing else."""

from flask import Flask, jsonify, request

app = Flask("bare")


@app.post("/webhook")
def webhook():
    request.get_data()
    return jsonify(status="accepted"), 202
