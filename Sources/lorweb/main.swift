import Tensor
print(Runtime.blasConfig)
