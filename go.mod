module github.com/guildhall/guildhall

go 1.26.8
