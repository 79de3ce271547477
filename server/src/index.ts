// The package root: deliberately empty. Other packages import modules by path (@hypergen/server/<path>.js).
export {};
