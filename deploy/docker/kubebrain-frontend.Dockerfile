# syntax=docker/dockerfile:1
# kubebrain-frontend: an etcd frontend, an Orleans client of a KubeBrain cluster whose silos it finds in the
# membership table in PostgreSQL. Build from the repository root:
#
#   docker build -f deploy/docker/kubebrain-frontend.Dockerfile -t kubebrain-frontend .
#   docker run -p 2379:2379 -e KUBEBRAIN_POSTGRES='Host=…;Username=…;Password=…;Database=…' kubebrain-frontend

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Restore first, from the project files only, so that a source change does not invalidate the package layer.
COPY global.json Directory.Build.props Directory.Build.targets Directory.Packages.props .editorconfig ./
COPY Protos/KubeBrain.Protos.csproj Protos/
COPY Grains.Interfaces/KubeBrain.Grains.Interfaces.csproj Grains.Interfaces/
COPY EtcdFrontend/KubeBrain.EtcdFrontend.csproj EtcdFrontend/
RUN dotnet restore EtcdFrontend/KubeBrain.EtcdFrontend.csproj
COPY Protos/ Protos/
COPY Grains.Interfaces/ Grains.Interfaces/
COPY EtcdFrontend/ EtcdFrontend/
RUN dotnet publish EtcdFrontend/KubeBrain.EtcdFrontend.csproj -c Release --no-restore -o /app -p:UseAppHost=false

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app /app
USER $APP_UID
# 2379 etcd clients, 2381 metrics (--listen-metrics-urls).
EXPOSE 2379 2381
ENTRYPOINT ["dotnet", "/app/kubebrain-frontend.dll"]
CMD ["--listen-client-urls", "http://0.0.0.0:2379"]
