print("normd")
