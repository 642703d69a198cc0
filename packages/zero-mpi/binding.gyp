{
  "targets": [
    {
      "target_name": "zero_mpi",
      "sources": ["native/zero_mpi.c"],
      "include_dirs": ["<!@(mpicc --showme:incdirs)"],
      "libraries": ["<!@(mpicc --showme:link)", "-ldl"],
      "cflags": ["-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
