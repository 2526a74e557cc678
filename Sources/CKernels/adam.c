/* adam: being written */
