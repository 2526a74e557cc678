print("stylegan")
