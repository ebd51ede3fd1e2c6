"""The Flask app of the gunicorn case (gunicorn_app.py serves it): /cpu
computes ~5-10 ms of pure Python per request, / answers a small JSON body."""
from flask import Flask, jsonify

app = Flask(__name__)


@app.route("/cpu")
def cpu():
    s = 0
    for i in range(60_000):
        s += i * i % 7
    return jsonify(ok=True, s=s)


@app.route("/")
def cheap():
    return jsonify(ok=True)
