// Shared by the AVX-512 assembly files (gemm_avx512_amd64.s, bf16_amd64.s): the
// store of a 6×64 tile of accumulators Z0..Z23 (row r in Z(4r) … Z(4r+3)) to C at DX
// (row stride R8 bytes), with Z30 = alpha, Z31 = beta and Z28 as scratch.

// FMA_TILE does a k step's multiply-adds for the 6×64 tile: the 64 values of B in
// Z24..Z27 times each of the 6 values of A at the addresses a0 … a5 (broadcast
// alternately into Z28 and Z29), added to the accumulators.
#define FMA_TILE(a0, a1, a2, a3, a4, a5) \
	VBROADCASTSS a0, Z28; \
	VFMADD231PS  Z24, Z28, Z0; \
	VFMADD231PS  Z25, Z28, Z1; \
	VFMADD231PS  Z26, Z28, Z2; \
	VFMADD231PS  Z27, Z28, Z3; \
	VBROADCASTSS a1, Z29; \
	VFMADD231PS  Z24, Z29, Z4; \
	VFMADD231PS  Z25, Z29, Z5; \
	VFMADD231PS  Z26, Z29, Z6; \
	VFMADD231PS  Z27, Z29, Z7; \
	VBROADCASTSS a2, Z28; \
	VFMADD231PS  Z24, Z28, Z8; \
	VFMADD231PS  Z25, Z28, Z9; \
	VFMADD231PS  Z26, Z28, Z10; \
	VFMADD231PS  Z27, Z28, Z11; \
	VBROADCASTSS a3, Z29; \
	VFMADD231PS  Z24, Z29, Z12; \
	VFMADD231PS  Z25, Z29, Z13; \
	VFMADD231PS  Z26, Z29, Z14; \
	VFMADD231PS  Z27, Z29, Z15; \
	VBROADCASTSS a4, Z28; \
	VFMADD231PS  Z24, Z28, Z16; \
	VFMADD231PS  Z25, Z28, Z17; \
	VFMADD231PS  Z26, Z28, Z18; \
	VFMADD231PS  Z27, Z28, Z19; \
	VBROADCASTSS a5, Z29; \
	VFMADD231PS  Z24, Z29, Z20; \
	VFMADD231PS  Z25, Z29, Z21; \
	VFMADD231PS  Z26, Z29, Z22; \
	VFMADD231PS  Z27, Z29, Z23

// ZERO_TILE clears the 24 accumulators Z0..Z23.
#define ZERO_TILE \
	VPXORD Z0, Z0, Z0; \
	VPXORD Z1, Z1, Z1; \
	VPXORD Z2, Z2, Z2; \
	VPXORD Z3, Z3, Z3; \
	VPXORD Z4, Z4, Z4; \
	VPXORD Z5, Z5, Z5; \
	VPXORD Z6, Z6, Z6; \
	VPXORD Z7, Z7, Z7; \
	VPXORD Z8, Z8, Z8; \
	VPXORD Z9, Z9, Z9; \
	VPXORD Z10, Z10, Z10; \
	VPXORD Z11, Z11, Z11; \
	VPXORD Z12, Z12, Z12; \
	VPXORD Z13, Z13, Z13; \
	VPXORD Z14, Z14, Z14; \
	VPXORD Z15, Z15, Z15; \
	VPXORD Z16, Z16, Z16; \
	VPXORD Z17, Z17, Z17; \
	VPXORD Z18, Z18, Z18; \
	VPXORD Z19, Z19, Z19; \
	VPXORD Z20, Z20, Z20; \
	VPXORD Z21, Z21, Z21; \
	VPXORD Z22, Z22, Z22; \
	VPXORD Z23, Z23, Z23

// STORE_BETA_Z writes alpha*acc + beta*C for the 16 floats at off(DX), with one rounding
// (the AVX2 kernels' STORE_BETA, 16 lanes wide).
#define STORE_BETA_Z(acc, off) \
	VMULPS      off(DX), Z31, Z28; \
	VFMADD231PS acc, Z30, Z28; \
	VMOVUPS     Z28, off(DX)

// STORE_ZERO_Z writes alpha*acc to the 16 floats at off(DX) (beta == 0: C not read).
#define STORE_ZERO_Z(acc, off) \
	VMULPS  acc, Z30, acc; \
	VMOVUPS acc, off(DX)

// STORE_TILE_BETA writes the whole tile as alpha*acc + beta*C, row by row.
#define STORE_TILE_BETA \
	STORE_BETA_Z(Z0, 0); \
	STORE_BETA_Z(Z1, 64); \
	STORE_BETA_Z(Z2, 128); \
	STORE_BETA_Z(Z3, 192); \
	ADDQ R8, DX; \
	STORE_BETA_Z(Z4, 0); \
	STORE_BETA_Z(Z5, 64); \
	STORE_BETA_Z(Z6, 128); \
	STORE_BETA_Z(Z7, 192); \
	ADDQ R8, DX; \
	STORE_BETA_Z(Z8, 0); \
	STORE_BETA_Z(Z9, 64); \
	STORE_BETA_Z(Z10, 128); \
	STORE_BETA_Z(Z11, 192); \
	ADDQ R8, DX; \
	STORE_BETA_Z(Z12, 0); \
	STORE_BETA_Z(Z13, 64); \
	STORE_BETA_Z(Z14, 128); \
	STORE_BETA_Z(Z15, 192); \
	ADDQ R8, DX; \
	STORE_BETA_Z(Z16, 0); \
	STORE_BETA_Z(Z17, 64); \
	STORE_BETA_Z(Z18, 128); \
	STORE_BETA_Z(Z19, 192); \
	ADDQ R8, DX; \
	STORE_BETA_Z(Z20, 0); \
	STORE_BETA_Z(Z21, 64); \
	STORE_BETA_Z(Z22, 128); \
	STORE_BETA_Z(Z23, 192)

// STORE_TILE_ZERO writes the whole tile as alpha*acc (beta == 0).
#define STORE_TILE_ZERO \
	STORE_ZERO_Z(Z0, 0); \
	STORE_ZERO_Z(Z1, 64); \
	STORE_ZERO_Z(Z2, 128); \
	STORE_ZERO_Z(Z3, 192); \
	ADDQ R8, DX; \
	STORE_ZERO_Z(Z4, 0); \
	STORE_ZERO_Z(Z5, 64); \
	STORE_ZERO_Z(Z6, 128); \
	STORE_ZERO_Z(Z7, 192); \
	ADDQ R8, DX; \
	STORE_ZERO_Z(Z8, 0); \
	STORE_ZERO_Z(Z9, 64); \
	STORE_ZERO_Z(Z10, 128); \
	STORE_ZERO_Z(Z11, 192); \
	ADDQ R8, DX; \
	STORE_ZERO_Z(Z12, 0); \
	STORE_ZERO_Z(Z13, 64); \
	STORE_ZERO_Z(Z14, 128); \
	STORE_ZERO_Z(Z15, 192); \
	ADDQ R8, DX; \
	STORE_ZERO_Z(Z16, 0); \
	STORE_ZERO_Z(Z17, 64); \
	STORE_ZERO_Z(Z18, 128); \
	STORE_ZERO_Z(Z19, 192); \
	ADDQ R8, DX; \
	STORE_ZERO_Z(Z20, 0); \
	STORE_ZERO_Z(Z21, 64); \
	STORE_ZERO_Z(Z22, 128); \
	STORE_ZERO_Z(Z23, 192)
