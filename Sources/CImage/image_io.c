/* image_io */
