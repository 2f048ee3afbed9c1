"""The engine: what the leader runs between the web layer and the adapters.

``services`` wires it together; ``journal`` keeps every alert and order; ``executor`` turns
one alert into orders; ``background`` and ``leader`` run it in exactly one process;
``performance`` and ``activity`` keep the Performance and Activity tabs current.
"""
