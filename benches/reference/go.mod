module ctrlog.invalid/reference

go 1.19
