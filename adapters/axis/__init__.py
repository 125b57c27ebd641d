"""The national document axis (Trục liên thông văn bản quốc gia, VDXP): client and simulator."""
