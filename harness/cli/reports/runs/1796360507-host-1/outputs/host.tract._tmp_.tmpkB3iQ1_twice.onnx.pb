edgebench-tensors*7
BprobsJ(Qp‹=<7≠=D˘◊=%◊©=èÑÿ=-‘◊=˝˝∂=&oÿ=0Â’=˚‹ﬁ=