namespace DistributedCalculator.Primes;

/// <summary>The count and sum of the primes in a range of numbers.</summary>
/// <param name="Count">How many primes.</param>
/// <param name="Sum">Their sum.</param>
public readonly record struct PrimeTally(long Count, long Sum)
{
    /// <summary>Two tallies of disjoint ranges, added.</summary>
    public static PrimeTally operator +(PrimeTally a, PrimeTally b) => new(a.Count + b.Count, checked(a.Sum + b.Sum));
}

/// <summary>
/// A segmented sieve of Eratosthenes: what a worker runs for one segment. Its memory is one byte per
/// number of the segment plus the primes up to the square root of its end, so the width the service
/// accepts bounds it.
/// </summary>
public static class SegmentSieve
{
    /// <summary>Widest segment a worker takes: 10 MB of sieve.</summary>
    public const long MaxWidth = 10_000_000;

    /// <summary>Highest end a worker takes: the sum of the primes below it still fits an int64.</summary>
    public const long MaxEnd = 10_000_000_000;

    /// <summary>The primes p with <paramref name="start"/> &lt;= p &lt; <paramref name="end"/>.</summary>
    public static PrimeTally Count(long start, long end, CancellationToken cancellationToken = default)
    {
        if (start < 0 || end < start || end - start > MaxWidth || end > MaxEnd)
        {
            throw new ArgumentOutOfRangeException(nameof(end), $"A segment is 0 <= start <= end <= {MaxEnd}, at most {MaxWidth} wide.");
        }

        start = Math.Max(start, 2);
        if (end <= start)
        {
            return default;
        }

        var composite = new bool[end - start];
        foreach (var p in SmallPrimes((long)Math.Sqrt(end) + 1))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var first = Math.Max(p * p, (start + p - 1) / p * p);
            for (var multiple = first; multiple < end; multiple += p)
            {
                composite[multiple - start] = true;
            }
        }

        long count = 0, sum = 0;
        for (var i = 0; i < composite.Length; i++)
        {
            if (!composite[i])
            {
                count++;
                sum += start + i;
            }
        }

        return new PrimeTally(count, sum);
    }

    private static List<long> SmallPrimes(long limit)
    {
        var composite = new bool[limit + 1];
        var primes = new List<long>();
        for (long n = 2; n <= limit; n++)
        {
            if (composite[n])
            {
                continue;
            }

            primes.Add(n);
            for (var multiple = n * n; multiple <= limit; multiple += n)
            {
                composite[multiple] = true;
            }
        }

        return primes;
    }
}
