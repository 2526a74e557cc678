/* bias_act: being written */
