/* threads: being written */
