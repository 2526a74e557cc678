/* norm: being written */
