"""What the test modules share: the cell record builder, the loopback package index, publish fixtures,
demo checkouts. Test modules import from here, never from one another."""
