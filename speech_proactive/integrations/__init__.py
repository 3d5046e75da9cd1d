"""Other harnesses driving a bundle: SimulEval's speech-to-text agent, and FBK's simulstream speech processor."""
