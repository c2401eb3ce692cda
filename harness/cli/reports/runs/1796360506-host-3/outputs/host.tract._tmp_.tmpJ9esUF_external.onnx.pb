edgebench-tensors*ByJÎÿÔ?õ
F¿}¿ÆgÎ>