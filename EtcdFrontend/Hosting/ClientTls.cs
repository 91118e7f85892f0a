using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace KubeBrain.EtcdFrontend.Hosting;

/// <summary>
/// The TLS of the https client URLs, as etcd's <c>--cert-file</c>, <c>--key-file</c>, <c>--trusted-ca-file</c> and
/// <c>--client-cert-auth</c> set it up: the server certificate with the chain its file holds, and, when a trusted CA
/// file is named, a client certificate required in the handshake and verified against those CAs only.
/// </summary>
internal sealed class ClientTls
{
    /// <summary>The extended key usage a client certificate must allow (when it names usages at all), as Go checks it.</summary>
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    private readonly X509Certificate2 _certificate;
    private readonly X509Certificate2Collection _chain;
    private readonly X509Certificate2Collection? _trustedCas;

    private ClientTls(X509Certificate2 certificate, X509Certificate2Collection chain, X509Certificate2Collection? trustedCas)
    {
        _certificate = certificate;
        _chain = chain;
        _trustedCas = trustedCas;
    }

    /// <summary>
    /// Checks how the TLS flags combine with each other and with the client URLs, and reads the files they name;
    /// answers null without <c>--cert-file</c>. Throws <see cref="ArgumentException"/> naming the bad flag.
    /// </summary>
    public static ClientTls? Load(FrontendCommandLine options)
    {
        if (options.CertFile is not null && options.KeyFile is null)
        {
            throw new ArgumentException("--cert-file needs --key-file");
        }
        if (options.KeyFile is not null && options.CertFile is null)
        {
            throw new ArgumentException("--key-file needs --cert-file");
        }
        if (options.ClientCertAuth && options.TrustedCaFile is null)
        {
            throw new ArgumentException("--client-cert-auth needs --trusted-ca-file");
        }
        if (options.CertFile is null && options.ListenClientUrls.FirstOrDefault(u => u.Scheme == Uri.UriSchemeHttps) is { } https)
        {
            throw new ArgumentException($"--listen-client-urls: '{https}' needs --cert-file and --key-file");
        }
        var trustedCas = options.TrustedCaFile is { } caFile ? Certificates("--trusted-ca-file", caFile, Read("--trusted-ca-file", caFile)) : null;
        if (options.CertFile is not { } certFile || options.KeyFile is not { } keyFile)
        {
            return null;
        }
        var certPem = Read("--cert-file", certFile);
        var chain = Certificates("--cert-file", certFile, certPem);
        var keyPem = Read("--key-file", keyFile);
        X509Certificate2 certificate;
        try
        {
            certificate = X509Certificate2.CreateFromPem(certPem, keyPem);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new ArgumentException($"--key-file: {keyFile} holds no PEM private key that matches the certificate in --cert-file");
        }
        chain.RemoveAt(0);
        return new ClientTls(certificate, chain, trustedCas);
    }

    /// <summary>Sets an https listener up: HTTP/2 is negotiated by ALPN (h2) on the listener's protocols.</summary>
    public void Configure(HttpsConnectionAdapterOptions https)
    {
        https.ServerCertificate = _certificate;
        https.ServerCertificateChain = _chain;
        if (_trustedCas is null)
        {
            return;
        }
        https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
        https.CheckCertificateRevocation = false;
        https.OnAuthenticate = (_, ssl) => ssl.CertificateChainPolicy = ClientChainPolicy(_trustedCas);
    }

    /// <summary>
    /// How a client certificate is verified: it chains to one of <paramref name="trustedCas"/> (no system root), its
    /// usages allow client authentication, and no revocation list is fetched. Built afresh for each handshake.
    /// </summary>
    private static X509ChainPolicy ClientChainPolicy(X509Certificate2Collection trustedCas)
    {
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
            DisableCertificateDownloads = true,
        };
        policy.CustomTrustStore.AddRange(trustedCas);
        policy.ApplicationPolicy.Add(ClientAuthentication);
        return policy;
    }

    /// <summary>The certificates of <paramref name="pem"/>, the text of <paramref name="flag"/>'s file <paramref name="path"/>; at least one.</summary>
    private static X509Certificate2Collection Certificates(string flag, string path, string pem)
    {
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPem(pem);
        }
        catch (CryptographicException e)
        {
            throw new ArgumentException($"{flag}: {path} holds a certificate that cannot be read ({e.Message})");
        }
        return certificates.Count > 0 ? certificates : throw new ArgumentException($"{flag}: {path} holds no PEM certificate");
    }

    private static string Read(string flag, string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"{flag}: cannot read {path}: {e.Message}");
        }
    }
}
