import random, sys
n = int(sys.argv[1]); out = sys.argv[2]
r = random.Random(7)
users = 100_000
cities = [(52.52, 13.40), (48.85, 2.35), (40.71, -74.00), (35.68, 139.69), (51.50, -0.12), (-33.86, 151.21)]
t = 1_704_067_200_000
with open(out, "w") as f:
    for i in range(n):
        t += r.randint(0, 2)
        ts = t - r.randint(0, 3000)
        u = r.randrange(users)
        ok = 1 if r.random() < 0.8 else 0
        c = cities[(u + (1 if r.random() < 0.05 else 0)) % len(cities)]
        f.write(f"u{u},{ts},{ok},{c[0]:.4f},{c[1]:.4f}\n")
