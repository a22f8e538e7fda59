"""The question-answering layer: offline router, agent tools and number verification."""
