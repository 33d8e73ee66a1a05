"""Grid agent: the recurrent core conditioned on a prompt tensor; never imports the encoder."""
