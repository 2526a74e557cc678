/* resample: being written */
