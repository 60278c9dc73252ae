module zipper/goreader

go 1.19
