/* elementwise: being written */
